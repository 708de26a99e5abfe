package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A container-create body as the SAM CLI 1.170.0 sends it (abridged).
const samCreate = `{"Image": "public.ecr.aws/lambda/provided:al2023-rapid-arm64",
	"Entrypoint": ["/var/rapid/aws-lambda-rie", "--log-level", "error"],
	"Cmd": ["bootstrap"], "WorkingDir": "/var/task", "Env": ["TABLE_NAME=t"],
	"ExposedPorts": {"8080/tcp": {}},
	"HostConfig": {"Binds": ["/work/.aws-sam/build/CreateStorageFunction:/var/task:ro,delegated"],
		"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5123"}]}, "Memory": 134217728}}`

func TestHostNetworkPutsTheEmulatorOnTheLoopback(t *testing.T) {
	out, err := hostNetwork([]byte(samCreate), func() (int, error) { return 40001, nil })
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Entrypoint   []string
		ExposedPorts map[string]any
		Image        string
		HostConfig   map[string]any
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	want := []string{"/var/rapid/aws-lambda-rie", "--log-level", "error",
		"--runtime-interface-emulator-address", "127.0.0.1:5123", "--runtime-api-address", "127.0.0.1:40001"}
	if !slices.Equal(c.Entrypoint, want) || c.HostConfig["NetworkMode"] != "host" || c.HostConfig["PortBindings"] != nil ||
		c.ExposedPorts != nil || c.HostConfig["Memory"] != float64(134217728) || c.Image == "" {
		t.Errorf("rewritten: %s", out)
	}
}

func TestHostNetworkLeavesOtherContainersAlone(t *testing.T) {
	other := `{"Image": "busybox", "Entrypoint": ["/bin/sh"], "HostConfig": {"NetworkMode": "bridge"}}`
	out, err := hostNetwork([]byte(other), func() (int, error) { return 1, nil })
	if err != nil || string(out) != other {
		t.Errorf("%s, %v", out, err)
	}
	noPort := strings.Replace(samCreate, `"PortBindings"`, `"Other"`, 1)
	if _, err := hostNetwork([]byte(noPort), func() (int, error) { return 1, nil }); err == nil {
		t.Error("an emulator without a host port was accepted")
	}
}

// The proxy rewrites creates on their way to the engine, records the
// created ids, and passes everything else through unchanged.
func TestDockerProxy(t *testing.T) {
	engineSock := filepath.Join(t.TempDir(), "engine.sock")
	l, err := net.Listen("unix", engineSock)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	engine := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(body))
		if strings.HasSuffix(r.URL.Path, "/containers/create") {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"Id":"c0ffee","Warnings":[]}`)
			return
		}
		io.WriteString(w, "OK")
	})}
	go engine.Serve(l)
	defer engine.Close()

	proxySock := filepath.Join(t.TempDir(), "proxy.sock")
	pl, err := net.Listen("unix", proxySock)
	if err != nil {
		t.Fatal(err)
	}
	p := newDockerProxy(engineSock, func() (int, error) { return 40002, nil })
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{Dial: func(_, _ string) (net.Conn, error) { return net.Dial("unix", proxySock) }}}

	resp, err := client.Post("http://docker/v1.41/containers/create", "application/json", strings.NewReader(samCreate))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), "c0ffee") {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, err = client.Get("http://docker/_ping"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 2 || !strings.Contains(seen[0], `"NetworkMode":"host"`) || !strings.Contains(seen[0], "127.0.0.1:40002") || seen[1] != "GET /_ping " {
		t.Errorf("the engine saw %q", seen)
	}
	if got := p.Created(); !slices.Equal(got, []string{"c0ffee"}) {
		t.Errorf("created %v", got)
	}
}

func TestExpandEnvFile(t *testing.T) {
	out, err := expandEnvFile([]byte(`{"Parameters": {"A": "${AWS_ENDPOINT_URL}", "B": "true"}}`), map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
	if err != nil || string(out) != `{"Parameters": {"A": "http://127.0.0.1:9", "B": "true"}}` {
		t.Errorf("%s, %v", out, err)
	}
	if _, err := expandEnvFile([]byte(`{"A": "${NOPE}"}`), nil); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("a missing value: %v", err)
	}
}

func TestRapidImageIsTheTagTheSAMCLILooksFor(t *testing.T) {
	for _, c := range []struct{ runtime, arch, want string }{
		{"provided.al2023", "arm64", "public.ecr.aws/lambda/provided:al2023-rapid-arm64"},
		{"provided.al2023", "x86_64", "public.ecr.aws/lambda/provided:al2023-rapid-x86_64"},
		{"provided.al2", "arm64", "public.ecr.aws/lambda/provided:al2-rapid-arm64"},
	} {
		if got, err := rapidImage(c.runtime, c.arch); err != nil || got != c.want {
			t.Errorf("%s %s: %s, %v", c.runtime, c.arch, got, err)
		}
	}
	if _, err := rapidImage("python3.12", "arm64"); err == nil {
		t.Error("python3.12 got an image")
	}
}

func TestFixedInterpreter(t *testing.T) {
	if !fixedInterpreter("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n") {
		t.Error("PF not seen")
	}
	if fixedInterpreter("enabled\nflags: P\n") || fixedInterpreter("enabled\n") {
		t.Error("no F taken for F")
	}
}

func TestImageTar(t *testing.T) {
	raw, err := imageTar([]byte("rie"), []byte("ROOTS\n\n"), []byte("FAKE\n"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name], modes[h.Name] = string(b), h.Mode
	}
	if files["var/rapid/aws-lambda-rie"] != "rie" || modes["var/rapid/aws-lambda-rie"] != 0o755 ||
		files["etc/pki/tls/certs/ca-bundle.crt"] != "ROOTS\nFAKE\n" || modes["tmp/"] != 0o1777 {
		t.Errorf("%v %v", files, modes)
	}
}
