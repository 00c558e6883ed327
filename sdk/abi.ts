// Exports every cwasi function module must carry besides `cwasi_main`. A
// function file re-exports this module (`export * from "cwasi/sdk/abi"`). The
// runtime (asm-functions/rt/cwasi-rt.ts) adds cwasi_alloc and cwasi_rt_*.
// The contract is documented in asm-functions/ABI.md.

/** Version of the guest ABI; the host refuses modules that report another one. */
export function cwasi_abi_version(): i32 {
  return 2;
}
