// The host functions of the guest ABI: one import namespace, "cwasi".
// Signatures and ownership rules: asm-functions/ABI.md.

// @ts-ignore: decorator
@external("cwasi", "output")
export declare function host_output(ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("cwasi", "fail")
export declare function host_fail(code: i32, msgPtr: usize, msgLen: usize): void;

// @ts-ignore: decorator
@external("cwasi", "call_start")
export declare function host_call_start(namePtr: usize, nameLen: usize, inPtr: usize, inLen: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "call_wait")
export declare function host_call_wait(handle: i32, outSlice: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "log")
export declare function host_log(level: i32, ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("cwasi", "stream_read")
export declare function host_stream_read(ptr: usize, cap: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "stream_write")
export declare function host_stream_write(ptr: usize, len: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "stream_end")
export declare function host_stream_end(): i32;

// @ts-ignore: decorator
@external("cwasi", "stream_next")
export declare function host_stream_next(max: usize, outSlice: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "stream_reserve")
export declare function host_stream_reserve(max: usize, outSlice: usize): i32;

// @ts-ignore: decorator
@external("cwasi", "stream_commit")
export declare function host_stream_commit(len: usize): i32;
