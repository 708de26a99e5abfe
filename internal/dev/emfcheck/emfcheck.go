// Package emfcheck checks log lines against CloudWatch's Embedded Metric
// Format specification, for tests.
package emfcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// units are the units the specification allows.
var units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Metric is one metric a line defines, with its value and the dimension
// values of each dimension set.
type Metric struct {
	Namespace  string
	Name       string
	Unit       string
	Value      float64
	Dimensions []map[string]string
}

// Line checks one JSON log line. It returns the metrics the line defines,
// none when it has no "_aws" member, and an error naming the first rule of
// the specification the line breaks.
func Line(line []byte) ([]Metric, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := root["_aws"]
	if !ok {
		return nil, nil
	}
	var aws struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit string  `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&aws); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if aws.Timestamp == nil {
		return nil, errors.New("_aws.Timestamp is missing")
	}
	if ms, err := aws.Timestamp.Int64(); err != nil || ms < 1e12 {
		return nil, fmt.Errorf("_aws.Timestamp %s is not epoch milliseconds", aws.Timestamp)
	}
	if len(aws.CloudWatchMetrics) == 0 {
		return nil, errors.New("_aws.CloudWatchMetrics is empty")
	}
	var out []Metric
	for i, d := range aws.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > 255 {
			return nil, fmt.Errorf("directive %d: Namespace must be 1 to 255 characters", i)
		}
		if d.Dimensions == nil {
			return nil, fmt.Errorf("directive %d: Dimensions is missing", i)
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return nil, fmt.Errorf("directive %d: 1 to 100 metrics, got %d", i, len(d.Metrics))
		}
		var sets []map[string]string
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				return nil, fmt.Errorf("directive %d: a dimension set of %d (at most 30)", i, len(set))
			}
			values := map[string]string{}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil || v == "" {
					return nil, fmt.Errorf("directive %d: dimension %q has no string value at the top level", i, name)
				}
				values[name] = v
			}
			sets = append(sets, values)
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" || len(*m.Name) > 255 {
				return nil, fmt.Errorf("directive %d: a metric without a 1 to 255 character Name", i)
			}
			if m.Unit != "" && !slices.Contains(units, m.Unit) {
				return nil, fmt.Errorf("metric %s: unit %q is not one of the specification's", *m.Name, m.Unit)
			}
			var v float64
			if err := json.Unmarshal(root[*m.Name], &v); err != nil {
				return nil, fmt.Errorf("metric %s has no number at the top level", *m.Name)
			}
			out = append(out, Metric{Namespace: *d.Namespace, Name: *m.Name, Unit: m.Unit, Value: v, Dimensions: sets})
		}
	}
	return out, nil
}
