// Package hostguard keeps the service from being turned against internal
// networks through the user-controlled workspace host (server-side request
// forgery).
//
// It works in two places:
//
//   - Policy.CheckHost runs when a request is decoded. It accepts only DNS
//     names under the Databricks workspace domains (or the operator's own
//     list), and refuses IP literals in every notation and localhost.
//   - Policy.Control runs in the dialer, after DNS resolution, for every
//     connection attempt. It refuses loopback, private, link-local (cloud
//     metadata), multicast, CGNAT and other special-purpose addresses, so a
//     permitted name that resolves (or is rebound) to an internal address is
//     still not reached.
//
// Both checks are relaxed by Policy.AllowPrivate, which exists for local
// development and tests against a fake workspace on 127.0.0.1 only.
//
// The default suffixes are the production workspace domains of every
// Databricks cloud (see DefaultSuffixes). The broad ".databricks.com" is
// deliberately absent: it also covers Databricks' documentation, community,
// marketing and account-console sites, none of which is a workspace, while
// every AWS and GCP workspace lives under ".cloud.databricks.com" or
// ".gcp.databricks.com".
package hostguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Environment variables read by PolicyFromEnv.
const (
	// EnvAllowedHostSuffixes is a comma-separated list of domain suffixes that
	// replaces DefaultSuffixes when it holds at least one entry.
	EnvAllowedHostSuffixes = "DATABRICKS_ALLOWED_HOST_SUFFIXES"
	// EnvAllowPrivateHosts set to "true" (or "1") sets Policy.AllowPrivate.
	EnvAllowPrivateHosts = "DATABRICKS_ALLOW_PRIVATE_HOSTS"
)

// DefaultSuffixes returns a fresh copy of the production Databricks workspace
// domains: AWS (commercial, GovCloud, DoD), Azure (public, US Government,
// China) and Google Cloud. Each matches strict subdomains only.
func DefaultSuffixes() []string {
	return []string{
		".cloud.databricks.com", // AWS
		".cloud.databricks.us",  // AWS GovCloud
		".cloud.databricks.mil", // AWS GovCloud DoD
		".azuredatabricks.net",  // Azure public cloud
		".databricks.azure.us",  // Azure US Government
		".databricks.azure.cn",  // Azure China (21Vianet)
		".gcp.databricks.com",   // Google Cloud
	}
}

// ErrHostNotAllowed is matched (with errors.Is) by every error CheckHost
// returns.
var ErrHostNotAllowed = errors.New("host not allowed")

// Policy decides which workspace hosts may be used and which addresses may be
// connected to. The zero value is the strict production policy with the
// default suffixes.
type Policy struct {
	// AllowedSuffixes lists the domains whose names are accepted. An entry
	// with a leading dot (".cloud.databricks.com") matches strict subdomains
	// only; an entry without one ("example.com") also matches the name
	// itself. Matching is on label boundaries. Empty means DefaultSuffixes.
	AllowedSuffixes []string
	// AllowPrivate, for local development and tests only, accepts IP
	// literals (in standard notation, any address) and localhost names in
	// CheckHost, and turns off the connect-time address check.
	AllowPrivate bool
}

// PolicyFromEnv builds a policy from EnvAllowedHostSuffixes and
// EnvAllowPrivateHosts, read through getenv (os.Getenv in production).
// Suffix entries are trimmed and lower-cased, and a leading "*" is dropped
// ("*.example.com" is ".example.com"); a value with no usable entry keeps
// the defaults.
func PolicyFromEnv(getenv func(string) string) Policy {
	var p Policy
	for _, entry := range strings.Split(getenv(EnvAllowedHostSuffixes), ",") {
		entry = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(entry)), "*")
		if entry == "" || entry == "." {
			continue
		}
		p.AllowedSuffixes = append(p.AllowedSuffixes, entry)
	}
	switch strings.ToLower(strings.TrimSpace(getenv(EnvAllowPrivateHosts))) {
	case "true", "1":
		p.AllowPrivate = true
	}
	return p
}

func (p Policy) suffixes() []string {
	if len(p.AllowedSuffixes) == 0 {
		return DefaultSuffixes()
	}
	return p.AllowedSuffixes
}

// HostError is a refused hostname. Its message is a complete sentence meant
// for the user, fit to show as a validation error of the host field.
type HostError struct {
	// Host is the refused hostname.
	Host string
	msg  string
}

// Error returns the user-facing sentence.
func (e *HostError) Error() string { return e.msg }

// Is reports whether target is ErrHostNotAllowed.
func (e *HostError) Is(target error) bool { return target == ErrHostNotAllowed }

const example = "for example https://dbc-a1b2c3d4-e5f6.cloud.databricks.com or https://adb-1234567890123456.7.azuredatabricks.net"

// CheckHost reports whether hostname (lower-case, without port, an IPv6
// address without brackets) may be used as a workspace host. It implements
// storage.HostPolicy; the error is a *HostError wrapping ErrHostNotAllowed.
func (p Policy) CheckHost(hostname string) error {
	host := strings.ToLower(hostname)
	refuse := func(format string, args ...any) error {
		return &HostError{Host: hostname, msg: fmt.Sprintf(format, args...)}
	}
	if host == "" {
		return refuse("The host must be a Databricks workspace name (%s).", example)
	}
	if isIPLiteral(host) {
		if p.AllowPrivate && !strings.HasSuffix(host, ".") {
			if _, err := netip.ParseAddr(host); err == nil {
				return nil
			}
		}
		return refuse("The host must be a Databricks workspace name (%s); IP addresses are not accepted.", example)
	}
	if strings.HasSuffix(host, ".") {
		return refuse("The host must not end with a dot; enter the workspace name as Databricks shows it (%s).", example)
	}
	if !ValidDNSName(host) {
		return refuse("The host is not a valid DNS name: use letters, digits, hyphens and dots only (%s).", example)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if p.AllowPrivate {
			return nil
		}
		return refuse("The host must be a Databricks workspace name (%s); localhost is not accepted.", example)
	}
	suffixes := p.suffixes()
	for _, s := range suffixes {
		if matchSuffix(host, s) {
			return nil
		}
	}
	return refuse("The host must be a Databricks workspace under one of %s (%s).", strings.Join(suffixes, ", "), example)
}

// matchSuffix reports whether host is under suffix on a label boundary. A
// suffix with a leading dot matches strict subdomains only.
func matchSuffix(host, suffix string) bool {
	suffix = strings.ToLower(suffix)
	if strings.HasPrefix(suffix, ".") {
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return host == suffix || strings.HasSuffix(host, "."+suffix)
}

// isIPLiteral reports whether a URL host would be taken for an IP address
// by some parser: anything with a colon (IPv6, zones) and, following the
// WHATWG URL standard, any name whose last label is a number in decimal,
// octal or hex notation. That covers 127.0.0.1, 2130706433, 0x7f000001,
// 0177.0.0.1 and 127.1, with or without a trailing dot.
func isIPLiteral(host string) bool {
	if strings.ContainsAny(host, ":%[]") {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if isDigits(last) {
		return true
	}
	if strings.HasPrefix(last, "0x") {
		return isHex(last[2:])
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidDNSName reports whether host is a lower-case ASCII letter-digit-hyphen
// name of labels of 1 to 63 characters, none starting or ending with a
// hyphen, at most 253 characters in all, without a trailing dot. CheckHost
// asks it of a workspace host; the databricks package, of the host a
// redirect names before it quotes that host.
func ValidDNSName(host string) bool {
	if len(host) > 253 {
		return false
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
