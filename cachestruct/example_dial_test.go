package cachestruct_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/twine-go/twine/cachestruct"
)

func ExampleMemcachedOptions_dial() {
	// memcached -s /run/memcached/memcached.sock: the address is the
	// socket's path, and Dial dials "unix".
	unix, err := cachestruct.NewMemcached([]string{"/run/memcached/memcached.sock"}, cachestruct.MemcachedOptions{
		Dial: func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close()

	// memcached -Z (TLS): crypto/tls's Dialer, which verifies the server's
	// certificate against the system's roots unless told otherwise.
	tlsDialer := &tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12}}
	secure, err := cachestruct.NewMemcached([]string{"cache.internal:11211"}, cachestruct.MemcachedOptions{
		Dial: tlsDialer.DialContext,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer secure.Close()
	fmt.Println("connections are dialled by the first requests")
	// Output:
	// connections are dialled by the first requests
}
