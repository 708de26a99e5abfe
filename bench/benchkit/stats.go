package benchkit

import (
	"math"
	"slices"
)

// Summary describes a sample.
type Summary struct {
	N                          int
	Min, Median, P95, P99, Max float64
	Mean                       float64
}

// Summarize computes the summary of xs: the median is the middle value (the
// mean of the two middle values for an even count), P95 and P99 the
// nearest-rank percentiles. An empty sample gives a zero Summary.
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
	rank := func(p float64) float64 { return s[min(max(int(math.Ceil(p*float64(n))), 1), n)-1] }
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{N: n, Min: s[0], Median: median, P95: rank(0.95), P99: rank(0.99), Max: s[n-1], Mean: sum / float64(n)}
}
