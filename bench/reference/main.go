// Command reference is the baseline Lambda of the benchmarks: the AWS
// clients of the real function and nothing else (see package refkit). Its
// artifact size and cold start are the floor of the AWS dependencies; with
// REFERENCE_CALLS=1 its CPU per invoke is that of a create's AWS calls.
package main

import "github.com/lsdbx/databricks-storage/bench/reference/refkit"

func main() { refkit.Main(nil) }
