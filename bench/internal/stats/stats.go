// Package stats summarises the runner's samples: quantiles of durations and
// ratios, interpolated between closest ranks.
package stats

import (
	"math"
	"sort"
	"time"
)

// Quantile is the q-quantile (0 to 1) of fs, NaN for none.
func Quantile(fs []float64, q float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), fs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo, hi := int(math.Floor(pos)), int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// Median is the 0.5-quantile of fs.
func Median(fs []float64) float64 { return Quantile(fs, 0.5) }

// QuantileD is Quantile over durations, 0 for none.
func QuantileD(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	f := make([]float64, len(ds))
	for i, d := range ds {
		f[i] = float64(d)
	}
	return time.Duration(Quantile(f, q))
}

// MedianD is the median of ds, 0 for none.
func MedianD(ds []time.Duration) time.Duration { return QuantileD(ds, 0.5) }

// MaxD is the largest of ds, 0 for none.
func MaxD(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// AbsD is |d|.
func AbsD(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// MedianI is the median of ns (the lower middle of an even count), 0 for none.
func MedianI(ns []int64) int64 {
	if len(ns) == 0 {
		return 0
	}
	s := append([]int64(nil), ns...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// MaxI is the largest of ns, 0 for none.
func MaxI(ns []int64) int64 {
	var m int64
	for _, n := range ns {
		m = max(m, n)
	}
	return m
}
