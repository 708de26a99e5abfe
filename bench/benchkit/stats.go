package benchkit

import (
	"math"
	"slices"
)

// Summary describes a sample.
type Summary struct {
	N                     int
	Min, Median, P99, Max float64
}

// Summarize computes the summary of xs: the median is the middle value (the
// mean of the two middle values for an even count), P99 the nearest-rank
// 99th percentile. An empty sample gives a zero Summary.
func Summarize(xs []float64) Summary {
	n := len(xs)
	if n == 0 {
		return Summary{}
	}
	s := slices.Sorted(slices.Values(xs))
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	rank := min(max(int(math.Ceil(0.99*float64(n))), 1), n)
	return Summary{N: n, Min: s[0], Median: median, P99: s[rank-1], Max: s[n-1]}
}
