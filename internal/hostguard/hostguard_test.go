package hostguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

var _ storage.HostPolicy = hostguard.Policy{}

func TestCheckHostRefusesHostile(t *testing.T) {
	tests := []struct {
		name, host, wantMsg string
	}{
		{"dotted ipv4", "127.0.0.1", "IP addresses are not accepted"},
		{"dotted ipv4 trailing dot", "127.0.0.1.", "IP addresses are not accepted"},
		{"decimal ipv4", "2130706433", "IP addresses are not accepted"},
		{"hex ipv4", "0x7f000001", "IP addresses are not accepted"},
		{"hex octets", "0x7f.0x0.0x0.0x1", "IP addresses are not accepted"},
		{"bare hex prefix", "0x", "IP addresses are not accepted"},
		{"octal ipv4", "0177.0.0.1", "IP addresses are not accepted"},
		{"short ipv4", "127.1", "IP addresses are not accepted"},
		{"public ipv4", "52.1.2.3", "IP addresses are not accepted"},
		{"metadata ipv4", "169.254.169.254", "IP addresses are not accepted"},
		{"metadata decimal", "2852039166", "IP addresses are not accepted"},
		{"ipv6 loopback", "::1", "IP addresses are not accepted"},
		{"ipv6 mapped", "::ffff:127.0.0.1", "IP addresses are not accepted"},
		{"ipv6 mapped hex", "::ffff:7f00:1", "IP addresses are not accepted"},
		{"ipv6 zone", "fe80::1%eth0", "IP addresses are not accepted"},
		{"ipv6 metadata", "fd00:ec2::254", "IP addresses are not accepted"},
		{"ipv6 unspecified", "::", "IP addresses are not accepted"},
		{"ipv4 then workspace-looking label", "dbc-1.cloud.databricks.com.127.0.0.1", "IP addresses are not accepted"},
		{"localhost", "localhost", "localhost is not accepted"},
		{"localhost subdomain", "dbc-1.localhost", "localhost is not accepted"},
		{"localhost trailing dot", "localhost.", "must not end with a dot"},
		{"workspace trailing dot", "dbc-1.cloud.databricks.com.", "must not end with a dot"},
		{"gcp metadata", "metadata.google.internal", "must be a Databricks workspace under one of"},
		{"suffix lookalike", "evilcloud.databricks.com", "must be a Databricks workspace under one of"},
		{"suffix as prefix", "cloud.databricks.com.evil.com", "must be a Databricks workspace under one of"},
		{"suffix inside label", "dbc-1.cloud.databricks.com-evil.com", "must be a Databricks workspace under one of"},
		{"bare suffix", "cloud.databricks.com", "must be a Databricks workspace under one of"},
		{"bare azure suffix", "azuredatabricks.net", "must be a Databricks workspace under one of"},
		{"databricks.com sibling", "docs.databricks.com", "must be a Databricks workspace under one of"},
		{"nip.io rebinding name", "127.0.0.1.nip.io", "must be a Databricks workspace under one of"},
		{"single label", "intranet", "must be a Databricks workspace under one of"},
		{"unrelated", "example.com", "must be a Databricks workspace under one of"},
		{"empty label", "dbc-1..cloud.databricks.com", "not a valid DNS name"},
		{"leading dot", ".cloud.databricks.com", "not a valid DNS name"},
		{"underscore", "dbc_1.cloud.databricks.com", "not a valid DNS name"},
		{"unicode", "dbc-1.cloud.databrícks.com", "not a valid DNS name"},
		{"hyphen edge", "-dbc.cloud.databricks.com", "not a valid DNS name"},
		{"long label", strings.Repeat("a", 64) + ".cloud.databricks.com", "not a valid DNS name"},
		{"empty", "", "must be a Databricks workspace name"},
	}
	var p hostguard.Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckHost(tt.host)
			if err == nil {
				t.Fatalf("CheckHost(%q) = nil, want refusal", tt.host)
			}
			if !errors.Is(err, hostguard.ErrHostNotAllowed) {
				t.Errorf("error %v does not match ErrHostNotAllowed", err)
			}
			var he *hostguard.HostError
			if !errors.As(err, &he) || he.Host != tt.host {
				t.Errorf("error %#v is not a *HostError for %q", err, tt.host)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.wantMsg)
			}
			if !strings.HasSuffix(err.Error(), ".") {
				t.Errorf("message %q is not a sentence", err.Error())
			}
		})
	}
}

func TestCheckHostAcceptsWorkspaces(t *testing.T) {
	hosts := []string{
		"dbc-a1b2c3d4-e5f6.cloud.databricks.com",
		"acme.cloud.databricks.com",
		"acme.staging.cloud.databricks.com",
		"dbc-1.cloud.databricks.us",
		"dbc-1.cloud.databricks.mil",
		"adb-1234567890123456.7.azuredatabricks.net",
		"adb-1.2.databricks.azure.us",
		"adb-1.2.databricks.azure.cn",
		"1234567890123456.7.gcp.databricks.com",
	}
	var p hostguard.Policy
	for _, h := range hosts {
		if err := p.CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", h, err)
		}
	}
}

func TestCheckHostAllowPrivate(t *testing.T) {
	p := hostguard.Policy{AllowPrivate: true}
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"10.1.2.3", true},
		{"::1", true},
		{"localhost", true},
		{"fake.localhost", true},
		{"dbc-1.cloud.databricks.com", true},
		// Odd numeric notations stay refused: resolvers disagree on them.
		{"2130706433", false},
		{"0x7f000001", false},
		{"0177.0.0.1", false},
		{"127.1", false},
		{"127.0.0.1.", false},
		// Names still need an allowed suffix.
		{"example.com", false},
	}
	for _, tt := range tests {
		err := p.CheckHost(tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", tt.host, err, tt.ok)
		}
	}
}

func TestCheckHostCustomSuffixes(t *testing.T) {
	p := hostguard.Policy{AllowedSuffixes: []string{".corp.example", "example.org"}}
	tests := []struct {
		host string
		ok   bool
	}{
		{"ws.corp.example", true},
		{"corp.example", false},
		{"evilcorp.example", false},
		{"example.org", true},
		{"a.example.org", true},
		{"badexample.org", false},
		{"dbc-1.cloud.databricks.com", false},
	}
	for _, tt := range tests {
		err := p.CheckHost(tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", tt.host, err, tt.ok)
		}
	}
}

func TestPolicyFromEnv(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantSuffixes []string
		wantPrivate  bool
	}{
		{"unset", nil, nil, false},
		{"suffixes", map[string]string{hostguard.EnvAllowedHostSuffixes: " .A.example , b.example,,*.c.example "},
			[]string{".a.example", "b.example", ".c.example"}, false},
		{"only separators", map[string]string{hostguard.EnvAllowedHostSuffixes: " , ,"}, nil, false},
		{"private true", map[string]string{hostguard.EnvAllowPrivateHosts: "true"}, nil, true},
		{"private TRUE", map[string]string{hostguard.EnvAllowPrivateHosts: " TRUE "}, nil, true},
		{"private 1", map[string]string{hostguard.EnvAllowPrivateHosts: "1"}, nil, true},
		{"private false", map[string]string{hostguard.EnvAllowPrivateHosts: "false"}, nil, false},
		{"private yes", map[string]string{hostguard.EnvAllowPrivateHosts: "yes"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := hostguard.PolicyFromEnv(func(k string) string { return tt.env[k] })
			if !slices.Equal(p.AllowedSuffixes, tt.wantSuffixes) {
				t.Errorf("AllowedSuffixes = %q, want %q", p.AllowedSuffixes, tt.wantSuffixes)
			}
			if p.AllowPrivate != tt.wantPrivate {
				t.Errorf("AllowPrivate = %v, want %v", p.AllowPrivate, tt.wantPrivate)
			}
		})
	}
}

func TestDefaultSuffixesIsACopy(t *testing.T) {
	a := hostguard.DefaultSuffixes()
	a[0] = "tampered"
	if hostguard.DefaultSuffixes()[0] == "tampered" {
		t.Fatal("DefaultSuffixes shares its backing array")
	}
}

// TestValidDNSName: the name rule CheckHost and the databricks package's
// redirect reports share.
func TestValidDNSName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	tests := []struct {
		host string
		want bool
	}{
		{"adb-1.7.azuredatabricks.net", true},
		{"localhost", true},
		{"a", true},
		{"1-2.example", true},
		{label63 + ".example", true},
		{strings.Repeat(label63+".", 3) + strings.Repeat("a", 61), true},  // 253
		{strings.Repeat(label63+".", 3) + strings.Repeat("a", 62), false}, // 254
		{strings.Repeat("a", 64) + ".example", false},
		{"", false},
		{"example.", false},
		{".example", false},
		{"a..example", false},
		{"-a.example", false},
		{"a-.example", false},
		{"Upper.example", false},
		{"under_score.example", false},
		{"exa mple.example", false},
		{"bücher.example", false},
		{"xn--bcher-kva.example", true},
		{"::1", false},
	}
	for _, tt := range tests {
		if got := hostguard.ValidDNSName(tt.host); got != tt.want {
			t.Errorf("ValidDNSName(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.255.1.2", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"10.0.0.1", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"169.254.169.254", true},
		{"169.254.170.2", true},
		{"192.0.0.170", true},
		{"192.0.2.1", true},
		{"198.18.0.1", true},
		{"198.51.100.1", true},
		{"203.0.113.1", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"::", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:10.0.0.1", true},
		{"::127.0.0.1", true},
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b:1::1", true},
		{"fd00:ec2::254", true},
		{"fc00::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"2001:db8::1", true},
		{"2001::1", true},
		{"2002:7f00:1::1", true},
		{"100::1", true},
		{"3fff::1", true},
		{"52.1.2.3", false},
		{"8.8.8.8", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.32.0.1", false},
		{"::ffff:52.1.2.3", false},
		{"64:ff9b::808:808", false},
		{"2600:1f18::1", false},
		{"2a00:1450:4001::1", false},
	}
	strict := hostguard.Policy{}
	open := hostguard.Policy{AllowPrivate: true}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		err := strict.CheckAddr(addr)
		if (err != nil) != tt.blocked {
			t.Errorf("CheckAddr(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
		}
		if err != nil {
			var be *hostguard.BlockedAddressError
			if !errors.As(err, &be) || be.Kind == "" || be.Addr.Zone() != "" || be.Addr.Is4In6() {
				t.Errorf("CheckAddr(%s) error %#v is not a clean *BlockedAddressError", tt.addr, err)
			}
		}
		if err := open.CheckAddr(addr); err != nil {
			t.Errorf("AllowPrivate CheckAddr(%s) = %v, want nil", tt.addr, err)
		}
	}
	if err := strict.CheckAddr(netip.Addr{}); err == nil {
		t.Error("CheckAddr(zero) = nil, want refusal")
	}
}

func TestControlRefusesUnparseable(t *testing.T) {
	var p hostguard.Policy
	if err := p.Control("tcp", "not-an-address", nil); err == nil {
		t.Fatal("Control accepted an unparseable address")
	}
	if err := p.Control("tcp", "52.1.2.3:443", nil); err != nil {
		t.Fatalf("Control refused a public address: %v", err)
	}
	if err := p.Control("tcp6", "[fe80::1%lo]:443", nil); err == nil {
		t.Fatal("Control accepted a zoned link-local address")
	}
}

// TestDialGuard proves the connect-time check with a real listener: names
// and addresses that lead to 127.0.0.1 are refused with the switch off and
// reached with it on, also through an HTTP client's error chain.
func TestDialGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{
		net.JoinHostPort("127.0.0.1", port),
		net.JoinHostPort("localhost", port), // resolves to loopback
	}
	for _, target := range targets {
		for _, allow := range []bool{false, true} {
			p := hostguard.Policy{AllowPrivate: allow}
			dial := p.DialContext(&net.Dialer{Timeout: 5 * time.Second})

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn, err := dial(ctx, "tcp", target)
			cancel()
			if allow {
				if err != nil {
					t.Errorf("allow=%v dial %s: %v", allow, target, err)
					continue
				}
				_ = conn.Close()
			} else {
				var be *hostguard.BlockedAddressError
				if !errors.As(err, &be) {
					if conn != nil {
						_ = conn.Close()
					}
					t.Errorf("allow=%v dial %s: err = %v, want *BlockedAddressError", allow, target, err)
					continue
				}
				if be.Kind != "loopback" {
					t.Errorf("Kind = %q, want loopback", be.Kind)
				}
			}

			client := &http.Client{Transport: &http.Transport{DialContext: dial}}
			resp, err := client.Get((&url.URL{Scheme: "http", Host: target, Path: "/"}).String())
			if allow {
				if err != nil {
					t.Errorf("allow=%v GET %s: %v", allow, target, err)
					continue
				}
				_ = resp.Body.Close()
			} else {
				var be *hostguard.BlockedAddressError
				if !errors.As(err, &be) {
					if resp != nil {
						_ = resp.Body.Close()
					}
					t.Errorf("allow=%v GET %s: err = %v, want *BlockedAddressError in chain", allow, target, err)
				}
			}
			client.CloseIdleConnections()
		}
	}
}

func TestDialContextKeepsDialerControl(t *testing.T) {
	called := false
	d := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		called = true
		return nil
	}}
	dial := hostguard.Policy{}.DialContext(d)
	_, err := dial(context.Background(), "tcp", "127.0.0.1:9")
	if !called {
		t.Error("the dialer's own Control was not called")
	}
	var be *hostguard.BlockedAddressError
	if !errors.As(err, &be) {
		t.Errorf("err = %v, want *BlockedAddressError", err)
	}
	if d.Control == nil {
		t.Error("DialContext modified the caller's dialer")
	}
}
