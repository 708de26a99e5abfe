package hostguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// BlockedAddressError is returned by the dialer guard for an address the
// service must not connect to. It reaches HTTP callers inside *url.Error and
// *net.OpError; find it with errors.As.
type BlockedAddressError struct {
	// Addr is the refused address (IPv4-mapped IPv6 addresses unmapped).
	Addr netip.Addr
	// Kind names the address range, e.g. "loopback" or "private".
	Kind string
}

// Error describes the refused connection.
func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("connection to %s refused: %s address", e.Addr, e.Kind)
}

type addrRange struct {
	prefix netip.Prefix
	kind   string
}

// blocked lists the special-purpose ranges of the IANA IPv4 and IPv6
// registries that are not plain public unicast, most specific first.
var blocked = [...]addrRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this-network)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 local-use"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment (Teredo, benchmarking)"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment-routing"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckAddr reports whether the service may connect to addr. It refuses
// loopback, private, link-local (including the cloud metadata addresses
// 169.254.169.254 and fd00:ec2::254), multicast, unspecified, CGNAT,
// documentation, benchmarking and reserved addresses, also in IPv4-mapped
// and NAT64 form, unless AllowPrivate is set. The error is a
// *BlockedAddressError.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	if kind := classify(addr); kind != "" {
		return &BlockedAddressError{Addr: addr.Unmap().WithZone(""), Kind: kind}
	}
	return nil
}

func classify(addr netip.Addr) string {
	if !addr.IsValid() {
		return "invalid"
	}
	addr = addr.Unmap()
	if addr.Zone() != "" {
		return "scoped (zoned)"
	}
	if addr.Is6() && nat64.Contains(addr) {
		b := addr.As16()
		return classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	for _, r := range blocked {
		if r.prefix.Contains(addr) {
			return r.kind
		}
	}
	if !addr.IsGlobalUnicast() {
		return "non-unicast"
	}
	return ""
}

// Control checks the address of every connection attempt, after DNS
// resolution, which defeats DNS rebinding. Use it as net.Dialer.Control; the
// error is a *BlockedAddressError.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedAddressError{Kind: "unparseable"}
	}
	return p.CheckAddr(ap.Addr())
}

// DialContext returns a dial function for http.Transport.DialContext that
// dials with a copy of d (a zero Dialer when nil) whose control function also
// applies the policy, after d's own Control or ControlContext.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var guarded net.Dialer
	if d != nil {
		guarded = *d
	}
	if cc := guarded.ControlContext; cc != nil {
		guarded.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if err := cc(ctx, network, address, c); err != nil {
				return err
			}
			return p.Control(network, address, c)
		}
		return guarded.DialContext
	}
	inner := guarded.Control
	guarded.Control = func(network, address string, c syscall.RawConn) error {
		if inner != nil {
			if err := inner(network, address, c); err != nil {
				return err
			}
		}
		return p.Control(network, address, c)
	}
	return guarded.DialContext
}
