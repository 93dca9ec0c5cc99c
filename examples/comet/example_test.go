package main

import (
	"errors"
	"fmt"

	"github.com/twine-go/twine/deferred"
)

// A Hub holds one Deferred per waiting subscriber; Publish fires them all,
// and a cancelled subscriber leaves the hub.
func ExampleHub() {
	h := NewHub()
	alice := h.Subscribe(0)
	bob := h.Subscribe(0)
	alice.AddCallback(func(m Message) (Message, error) {
		fmt.Printf("alice got #%d %q\n", m.ID, m.Text)
		return m, nil
	})
	bob.Cancel() // bob hung up
	_, delivered, _ := h.Publish("hello")
	fmt.Println("delivered:", delivered, "waiting:", h.Waiting())

	// A subscriber coming back with the last id it saw catches up at once.
	late := h.Subscribe(0)
	h.Publish("again")
	m, _, _ := h.Subscribe(1).Result()
	fmt.Printf("since=1 answers at once with #%d %q\n", m.ID, m.Text)
	_, _, _ = late.Result()

	_, err, _ := bob.Result()
	fmt.Println("bob:", err, errors.Is(err, deferred.ErrCancelled))
	// Output:
	// alice got #1 "hello"
	// delivered: 1 waiting: 0
	// since=1 answers at once with #2 "again"
	// bob: deferred: cancelled true
}
