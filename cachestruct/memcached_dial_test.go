package cachestruct_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/storetest"
	"github.com/twine-go/twine/internal/memcachedtest"
)

// startMemcachedWith starts memcached with args (which say where it
// listens) and waits until a "version" request over dial is answered. The
// process is killed in t.Cleanup and by the kernel if the test binary dies.
// (internal/memcachedtest only starts servers on TCP ports it probes in
// plain text.)
func startMemcachedWith(t *testing.T, args []string, dial func() (net.Conn, error)) {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		memcachedtest.Unavailable(t, "memcached not found on PATH; install it with: %s", memcachedtest.InstallHint)
	}
	args = append([]string{"-U", "0", "-m", "16"}, args...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	ping := func() error {
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("version\r\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "VERSION ") {
			return fmt.Errorf("answer %q", line)
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping()
		if err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("memcached %v exited: %v; output: %s", args, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("memcached %v did not answer: %v; output: %s", args, err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialStoreProof runs a few operations and two structures on store.
func dialStoreProof(t *testing.T, store cachestruct.Store) {
	ctx := context.Background()
	_, err := store.Set(ctx, "k", []byte("over the dialled connection"), cachestruct.SetOptions{})
	require.NoError(t, err)
	it, found, err := store.Get(ctx, "k", cachestruct.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "over the dialled connection", string(it.Value))
	items, err := store.GetMulti(ctx, []string{"k", "absent"})
	require.NoError(t, err)
	assert.Len(t, items, 1)
	h, err := cachestruct.NewLock(store, "lock", cachestruct.LockConfig{Fencing: true}).TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Unlock(ctx))
	res, err := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(1, 2), cachestruct.RateLimiterConfig{}).Allow(ctx, "rate", 2)
	require.NoError(t, err)
	assert.True(t, res.Allowed)
}

// TestMemcachedDialUnix: a store on memcached listening on a unix socket
// only (-s), through MemcachedOptions.Dial; it passes the Store contract.
func TestMemcachedDialUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "memcached.sock")
	startMemcachedWith(t, []string{"-s", sock, "-a", "0700"}, func() (net.Conn, error) { return net.Dial("unix", sock) })
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", addr)
	}
	storetest.Run(t, func(t *testing.T) cachestruct.Store {
		return newDialStore(t, []string{sock}, cachestruct.MemcachedOptions{Dial: dial, ConnsPerServer: 1}) // one connection: see storetest's differential case
	})
	dialStoreProof(t, newDialStore(t, []string{sock}, cachestruct.MemcachedOptions{Dial: dial}))

	// Without Dial the path is dialled as a TCP address: unavailable.
	_, _, err := newDialStore(t, []string{sock}, cachestruct.MemcachedOptions{}).Get(context.Background(), "k", cachestruct.GetOptions{})
	require.ErrorIs(t, err, cachestruct.ErrUnavailable)
}

// TestMemcachedDialTLS: a store on memcached speaking TLS only (-Z, with a
// certificate made here), through a crypto/tls Dialer that verifies it. A
// plain-text client gets nowhere.
func TestMemcachedDialTLS(t *testing.T) {
	if out, _ := exec.Command("memcached", "-h").CombinedOutput(); !strings.Contains(string(out), "--enable-ssl") {
		memcachedtest.Unavailable(t, "this memcached is built without TLS (-Z)")
	}
	dir := t.TempDir()
	pool := writeTestCert(t, dir)
	port := freeTCPPort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	startMemcachedWith(t, []string{
		"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-Z",
		"-o", "ssl_chain_cert=" + filepath.Join(dir, "cert.pem") + ",ssl_key=" + filepath.Join(dir, "key.pem"),
	}, func() (net.Conn, error) { return tls.Dial("tcp", addr, cfg) })

	d := &tls.Dialer{Config: cfg}
	store := newDialStore(t, []string{addr}, cachestruct.MemcachedOptions{Dial: d.DialContext})
	dialStoreProof(t, store)
	storetest.Run(t, func(t *testing.T) cachestruct.Store {
		return newDialStore(t, []string{addr}, cachestruct.MemcachedOptions{Dial: d.DialContext, ConnsPerServer: 1}) // one connection: see storetest's differential case
	})

	plain := newDialStore(t, []string{addr}, cachestruct.MemcachedOptions{Timeout: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := plain.Get(ctx, "k", cachestruct.GetOptions{})
	require.Error(t, err, "plain text to a TLS-only server")

	untrusted := newDialStore(t, []string{addr}, cachestruct.MemcachedOptions{Dial: (&tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12}}).DialContext})
	_, _, err = untrusted.Get(context.Background(), "k", cachestruct.GetOptions{})
	require.ErrorIs(t, err, cachestruct.ErrUnavailable, "a certificate the client does not trust")
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir (cert.pem, key.pem) and returns a pool that trusts it.
func writeTestCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cachestruct test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// freeTCPPort asks the kernel for a free loopback port.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newDialStore returns a memcached store on addrs, closed in t.Cleanup.
func newDialStore(t *testing.T, addrs []string, opts cachestruct.MemcachedOptions) *cachestruct.Memcached {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // room for a loaded CI machine
	}
	m, err := cachestruct.NewMemcached(addrs, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}
