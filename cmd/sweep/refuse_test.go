package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

// The refusals come before any AWS call, so they need no emulator.
func TestRunRefuses(t *testing.T) {
	ok := map[string]string{"TABLE_NAME": "some-table"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want error
		text string
	}{
		{"help", []string{"-h"}, ok, flag.ErrHelp, ""},
		{"unknown flag", []string{"-force"}, ok, errUsage, "flag provided but not defined"},
		{"bad duration", []string{"-grace", "soon"}, ok, errUsage, "invalid value"},
		{"grace of a second", []string{"-grace", "1s"}, ok, errUsage, "-grace: grace period out of bounds: 1s is shorter than the minimum 5m0s: a create in flight could lose its secret"},
		{"grace just short", []string{"-grace=4m59s"}, ok, errUsage, "shorter than the minimum 5m0s"},
		{"zero grace", []string{"-grace", "0s"}, ok, errUsage, "shorter than the minimum"},
		{"negative grace", []string{"-grace=-1m"}, ok, errUsage, "shorter than the minimum"},
		{"grace too long", []string{"-grace=169h"}, ok, errUsage, "longer than the maximum 168h0m0s"},
		{"extra argument", []string{"now"}, ok, errUsage, "unexpected arguments"},
		{"no table", nil, map[string]string{}, errUsage, "TABLE_NAME is required"},
		{"bad SWEEP_GRACE_MINUTES", nil, map[string]string{"TABLE_NAME": "t", "SWEEP_GRACE_MINUTES": "0"}, errUsage, "SWEEP_GRACE_MINUTES must be"},
		{"prefix without slash", nil, map[string]string{"TABLE_NAME": "t", "SECRET_NAME_PREFIX": "label"}, errUsage, `SECRET_NAME_PREFIX must end with "/"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), c.args, &out, func(k string) string { return c.env[k] }, time.Now)
			if !errors.Is(err, c.want) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error()+out.String(), c.text) {
				t.Errorf("error %q / output %q lacks %q", err, out.String(), c.text)
			}
		})
	}
}
