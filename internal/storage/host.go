package storage

// Workspace host rules: the URL form a host must have and the policy it must
// pass.

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

func (p *parser) host(field string, policy HostPolicy) string {
	_, present, null := p.raw(field)
	switch {
	case !present:
		p.errs.add(field, msgRequired)
		return ""
	case null:
		p.errs.add(field, msgNull)
		return ""
	}
	s, ok := p.text(field, 0, false)
	if !ok {
		return ""
	}
	normalised, hostname, err := NormaliseHost(s)
	if err != nil {
		p.errs.add(field, err.Error())
		return ""
	}
	if policy != nil {
		if err := policy.CheckHost(hostname); err != nil {
			p.errs.add(field, err.Error())
			return ""
		}
	}
	return normalised
}

// HostFormatError says, in a sentence fit for a client, why a workspace URL
// is not acceptable.
type HostFormatError string

func (e HostFormatError) Error() string { return string(e) }

// NormaliseHost checks that raw is https://<hostname>[:port] with at most a
// trailing slash, and returns it lower-cased, without the default port and
// trailing slash, together with the bare hostname.
func NormaliseHost(raw string) (normalised, hostname string, err error) {
	const shape = "Enter a valid workspace URL of the form https://<workspace-host>[:port], with no path, query, fragment or user info."
	if hasControl(raw) || strings.ContainsAny(raw, " \\") {
		return "", "", HostFormatError(shape)
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" {
		return "", "", HostFormatError(shape)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", "", HostFormatError("The workspace URL must use https://.")
	}
	if u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", "", HostFormatError(shape)
	}
	hostname = strings.ToLower(u.Hostname())
	port := u.Port()
	if hostname == "" || strings.HasSuffix(u.Host, ":") {
		return "", "", HostFormatError(shape)
	}
	if port != "" {
		n, convErr := strconv.Atoi(port)
		if convErr != nil || n < 1 || n > 65535 {
			return "", "", HostFormatError("The workspace URL has an invalid port.")
		}
		if n == 443 {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	hostport := hostname
	if strings.Contains(hostname, ":") {
		hostport = "[" + hostname + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(hostname, port)
	}
	return "https://" + hostport, hostname, nil
}
