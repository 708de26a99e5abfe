package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
)

// The SAM CLI (1.170.0) accepts --docker-network host but then leaves the
// container on Docker's default bridge network (it only connects containers
// to networks other than "host"), from where the function could reach moto
// and the fake workspace only through a private bridge address. dockerProxy
// sits between the SAM CLI and the Docker engine and runs each Lambda
// container in the host's network namespace instead, where 127.0.0.1 is
// this machine's loopback: it sets NetworkMode "host", drops the port
// bindings, and has the emulator in the container listen on the loopback
// port the SAM CLI chose for it (and its Runtime API on a free one, so that
// several containers can run at once). It records the containers created
// through it, so they can be removed whatever the SAM CLI leaves behind.
type dockerProxy struct {
	rp       *httputil.ReverseProxy
	freePort func() (int, error)

	mu      sync.Mutex
	created []string
}

var containerCreate = regexp.MustCompile(`^(/v[0-9.]+)?/containers/create$`)

func newDockerProxy(engineSocket string, freePort func() (int, error)) *dockerProxy {
	p := &dockerProxy{freePort: freePort}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", engineSocket)
			},
		},
		// Logs, attach and events stream.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method != http.MethodPost || !containerCreate.MatchString(resp.Request.URL.Path) || resp.StatusCode != http.StatusCreated {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var created struct{ ID string }
			if json.Unmarshal(body, &created) == nil && created.ID != "" {
				p.mu.Lock()
				p.created = append(p.created, created.ID)
				p.mu.Unlock()
			}
			return nil
		},
	}
	return p
}

func (p *dockerProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && containerCreate.MatchString(r.URL.Path) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body, err = hostNetwork(body, p.freePort); err != nil {
			http.Error(w, "sam-local docker proxy: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	p.rp.ServeHTTP(w, r)
}

// Created returns the ids of the containers created through the proxy.
func (p *dockerProxy) Created() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.created...)
}

// rie is the emulator's path in the Lambda images (the SAM CLI's entrypoint).
const rie = "/var/rapid/aws-lambda-rie"

// hostNetwork rewrites a container-create body of the SAM CLI: the host's
// network namespace, no port bindings, and the emulator listening on
// 127.0.0.1 at the host port the SAM CLI bound to the container's 8080.
// Bodies of other containers (no emulator entrypoint) are left alone.
func hostNetwork(body []byte, freePort func() (int, error)) ([]byte, error) {
	var c map[string]any
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("container create body: %w", err)
	}
	entry, _ := c["Entrypoint"].([]any)
	if len(entry) == 0 || entry[0] != rie {
		return body, nil
	}
	hc, _ := c["HostConfig"].(map[string]any)
	if hc == nil {
		hc = map[string]any{}
		c["HostConfig"] = hc
	}
	bindings, _ := hc["PortBindings"].(map[string]any)
	var port string
	if b, _ := bindings["8080/tcp"].([]any); len(b) > 0 {
		if m, _ := b[0].(map[string]any); m != nil {
			port, _ = m["HostPort"].(string)
		}
	}
	if port == "" {
		return nil, fmt.Errorf("the SAM CLI bound no host port to the emulator's 8080/tcp")
	}
	api, err := freePort()
	if err != nil {
		return nil, err
	}
	hc["NetworkMode"] = "host"
	delete(hc, "PortBindings")
	delete(c, "ExposedPorts")
	c["Entrypoint"] = append(entry,
		"--runtime-interface-emulator-address", "127.0.0.1:"+port,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(api))
	return json.Marshal(c)
}
