// Package filecap makes and checks the capabilities of file links: the
// unguessable part of a URL of the file route,
//
//	/data/databricks/<storage id>/<capability>/<path under the volume>
//
// that lets whoever holds the URL (an annotator's browser, in an <img> tag,
// with no header) read that one file of that one storage, and nothing else.
//
// A capability is base64url (no padding) of HMAC-SHA256 under the storage's
// file key of "lsdbx-file-v1\n<storage id>\n<path>": bound to the storage
// and the path, so a capability of one storage or path never opens another.
// The key is 32 random bytes kept in the storage's secret (SecretValue), in
// the version its record names, so rotating it (a new version naming a new
// key) revokes every link signed with the old one, and deleting the storage
// (its record) revokes them all.
//
// Paths are the file's path relative to the volume root
// (/Volumes/<catalog>/<schema>/<volume>/), as the files preview and the
// sync name them ("images/a.jpg"): segments that are each a single name
// (CheckPath), under the storage's prefix (Under).
package filecap

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// SecretValue names the file key among the values of a storage's secret.
const SecretValue = "file_key"

// KeySize is the length of a file key in bytes.
const KeySize = 32

// RoutePrefix starts every file URL path.
const RoutePrefix = "/data/databricks/"

// domain separates these MACs from any other use of the key.
const domain = "lsdbx-file-v1\n"

// NewKey returns a fresh random file key, encoded as kept in the secret
// (base64url, no padding).
func NewKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("filecap: random key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ErrBadKey is returned for a stored key that is not KeySize bytes of
// base64url.
var ErrBadKey = errors.New("filecap: the stored file key is malformed")

func decodeKey(key string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(b) != KeySize {
		return nil, ErrBadKey
	}
	return b, nil
}

func mac(key []byte, storageID int64, path string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write([]byte(strconv.FormatInt(storageID, 10)))
	m.Write([]byte{'\n'})
	m.Write([]byte(path))
	return m.Sum(nil)
}

// Sign returns the capability of path (already checked with CheckPath) of
// the storage storageID under key.
func Sign(key string, storageID int64, path string) (string, error) {
	k, err := decodeKey(key)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(mac(k, storageID, path)), nil
}

// Verify reports whether capability is the one of path of the storage
// under key. The MACs are compared in constant time (hmac.Equal); a
// capability that is not base64url of a MAC's length is refused without
// comparing.
func Verify(key string, storageID int64, path, capability string) bool {
	k, err := decodeKey(key)
	if err != nil {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(capability)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, mac(k, storageID, path))
}

// ErrBadPath is wrapped by CheckPath's errors.
var ErrBadPath = errors.New("filecap: not a file path under the volume")

// MaxPathBytes bounds a path (the Files API's own limit is far above).
const MaxPathBytes = 4096

// CheckPath accepts a relative path of single-name segments: not empty, no
// leading or trailing slash, no empty, "." or ".." segment, no backslash,
// no control, bidirectional or zero-width character. It is the decoded
// path: a path that only decodes to one of these (%2e%2e, %2f) is refused
// the same way by the route, which decodes segment by segment.
func CheckPath(p string) error {
	if p == "" || len(p) > MaxPathBytes {
		return fmt.Errorf("%w: empty or too long", ErrBadPath)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: empty, \".\" or \"..\" segment", ErrBadPath)
		}
		for _, r := range seg {
			if r == '\\' || r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.Is(unicode.Cf, r) {
				return fmt.Errorf("%w: a segment holds %U", ErrBadPath, r)
			}
		}
	}
	return nil
}

// Under reports whether the path p lies under the storage's prefix (stored
// without surrounding slashes; empty is the volume root), segment-wise:
// "images2/a.jpg" is not under "images".
func Under(prefix, p string) bool {
	prefix = strings.Trim(prefix, "/")
	return prefix == "" || strings.HasPrefix(p, prefix+"/")
}

// URLPath is the path of the file URL of p (checked) of storage storageID
// with capability: RoutePrefix, the id, the capability, and p with each
// segment escaped. The sync puts it, after the service's base URL, into
// tasks.
func URLPath(storageID int64, capability, p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return RoutePrefix + strconv.FormatInt(storageID, 10) + "/" + capability + "/" + strings.Join(segs, "/")
}

// ErrBadRoute is wrapped by ParseURLPath's errors.
var ErrBadRoute = errors.New("filecap: not a file URL")

// ParseURLPath splits an escaped URL path (url.URL.EscapedPath) of the
// file route into the storage id, the capability and the decoded path,
// decoding segment by segment, so that an escaped slash or dot
// (%2F, %2e%2e) is part of a name and refused by CheckPath, never a
// separator or a step up.
func ParseURLPath(escaped string) (storageID int64, capability, p string, err error) {
	rest, ok := strings.CutPrefix(escaped, RoutePrefix)
	if !ok {
		return 0, "", "", ErrBadRoute
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 3 {
		return 0, "", "", fmt.Errorf("%w: no path", ErrBadRoute)
	}
	id, err := strconv.ParseInt(segs[0], 10, 64)
	if err != nil || id < 1 || segs[0] != strconv.FormatInt(id, 10) {
		return 0, "", "", fmt.Errorf("%w: bad storage id", ErrBadRoute)
	}
	capability = segs[1]
	names := segs[2:]
	for i, s := range names {
		d, err := url.PathUnescape(s)
		if err != nil {
			return 0, "", "", fmt.Errorf("%w: bad escape", ErrBadPath)
		}
		if strings.Contains(d, "/") {
			return 0, "", "", fmt.Errorf("%w: an escaped slash", ErrBadPath)
		}
		names[i] = d
	}
	p = strings.Join(names, "/")
	if err := CheckPath(p); err != nil {
		return 0, "", "", err
	}
	return id, capability, p, nil
}
