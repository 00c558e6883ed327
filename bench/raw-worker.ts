// The trivial Piscina task of the overhead benchmark's reference row: return the input.
export default function echo(input: Uint8Array): Uint8Array {
  return input;
}
