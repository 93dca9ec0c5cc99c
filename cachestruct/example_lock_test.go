package cachestruct_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

func ExampleHeld_KeepAlive() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	lock := cachestruct.NewLock(store, "lock:report", cachestruct.LockConfig{TTL: 3 * time.Second})
	held, err := lock.TryLock(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Work under work: it is cancelled the moment the lock is lost.
	work := held.KeepAlive(ctx)
	fmt.Println("working:", work.Err() == nil)

	_ = held.Unlock(ctx) // stops the keep-alive
	fmt.Println("after unlock:", context.Cause(work))
	// Output:
	// working: true
	// after unlock: context canceled
}

func ExampleHeld_Token() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	cfg := cachestruct.LockConfig{TTL: time.Second, Fencing: true}

	// The resource keeps the largest token it accepted.
	var largest uint64
	write := func(token uint64) error {
		if token < largest {
			return errors.New("refused: stale token")
		}
		largest = token
		return nil
	}

	a, _ := cachestruct.NewLock(store, "lock:ledger", cfg).TryLock(ctx)
	_ = store.Delete(ctx, "lock:ledger", cachestruct.DeleteOptions{}) // a's lock is lost (evicted)
	b, _ := cachestruct.NewLock(store, "lock:ledger", cfg).TryLock(ctx)
	fmt.Println("b's token is greater:", b.Token() > a.Token())
	fmt.Println("b writes:", write(b.Token()))
	fmt.Println("a writes:", write(a.Token())) // a does not know it lost the lock
	// Output:
	// b's token is greater: true
	// b writes: <nil>
	// a writes: refused: stale token
}
