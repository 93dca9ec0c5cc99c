package cachestruct

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOnlineCountsDistinctUsers(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	o := NewOnline(store, "online", OnlineConfig{Slot: time.Minute, Slots: 5, Now: clk.Now})
	other := NewOnline(store, "online", OnlineConfig{Slot: time.Minute, Slots: 5, Now: clk.Now}) // another process

	count := func() uint64 {
		t.Helper()
		n, err := o.Count(ctx)
		require.NoError(t, err)
		return n
	}
	hit := func(o *Online, users ...string) {
		t.Helper()
		for _, u := range users {
			require.NoError(t, o.Hit(ctx, u))
		}
	}

	// Minute 0: alice (three times, from two processes) and bob.
	hit(o, "alice", "bob", "alice")
	hit(other, "alice")
	assert.Zero(t, count(), "the current slot is not displayed yet")
	clk.Advance(time.Minute)
	assert.EqualValues(t, 2, count(), "alice and bob, each once")

	// Minute 1: carol, and alice again (already counted in the window).
	hit(other, "carol", "alice")
	clk.Advance(time.Minute)
	assert.EqualValues(t, 3, count())

	// Minutes 2-5: nobody new. At minute 6 minute 0 has left the window.
	clk.Advance(3 * time.Minute)
	assert.EqualValues(t, 3, count(), "minute 5: minutes 0..4 are displayed")
	clk.Advance(time.Minute)
	assert.EqualValues(t, 1, count(), "minute 6: only carol (minute 1) remains")

	// alice's marker expired with the window: she counts again.
	hit(o, "alice")
	clk.Advance(time.Minute)
	assert.EqualValues(t, 1, count(), "minute 7: alice (minute 6); carol's minute 1 has left")
	clk.Advance(10 * time.Minute)
	assert.Zero(t, count(), "everything expired")
}

func TestOnlineTwoKeyShadow(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch.Add(20 * time.Second))
	store := NewMemory(MemoryOptions{Now: clk.Now})
	o := NewOnline(store, "on", OnlineConfig{Slot: 5 * time.Minute, Slots: 1, Now: clk.Now})
	for _, u := range []string{"a", "b", "c"} {
		require.NoError(t, o.Hit(ctx, u))
	}
	n, err := o.Count(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the shadow key (previous period) is empty")
	clk.Advance(5 * time.Minute) // the keys swap roles by the clock
	require.NoError(t, o.Hit(ctx, "d"))
	n, err = o.Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	clk.Advance(5 * time.Minute)
	n, err = o.Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

func TestOnlineTTLAlignment(t *testing.T) {
	tests := []struct {
		into time.Duration // time into the slot at the first hit
		want time.Duration
	}{
		{0, 6 * time.Minute},
		{time.Second, 6*time.Minute - time.Second},
		{59*time.Second + 500*time.Millisecond, 5 * time.Minute},
		{59*time.Second + 999*time.Millisecond, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.into.String(), func(t *testing.T) {
			ctx := context.Background()
			clk := newStClock(stEpoch.Add(tt.into))
			store := NewMemory(MemoryOptions{Now: clk.Now})
			o := NewOnline(store, "on", OnlineConfig{Slot: time.Minute, Slots: 5, Now: clk.Now})
			assert.Equal(t, tt.want, o.SlotTTL(clk.Now()))
			require.NoError(t, o.Hit(ctx, "u"))
			s, _ := o.slotOf(clk.Now())
			it, found, err := store.Get(ctx, o.slotKey(s), GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, tt.want, it.TTL)
			// The key is gone before its index comes back 6 slots later.
			start := stEpoch
			clk.Advance(start.Add(6 * time.Minute).Sub(clk.Now()))
			_, found, err = store.Get(ctx, o.slotKey(s), GetOptions{})
			require.NoError(t, err)
			assert.False(t, found)
		})
	}
}

func TestOnlineConfig(t *testing.T) {
	store := NewMemory(MemoryOptions{})
	for _, cfg := range []OnlineConfig{{Slot: 1500 * time.Millisecond}, {Slot: -time.Minute}, {Slots: -1}} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			assert.Panics(t, func() { NewOnline(store, "on", cfg) })
		})
	}
	o := NewOnline(store, "on", OnlineConfig{})
	assert.Equal(t, time.Minute, o.period)
	assert.Equal(t, 5, o.slots)
	require.ErrorIs(t, o.Hit(context.Background(), "user with spaces"), ErrInvalidKey)
}
