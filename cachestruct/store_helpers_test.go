package cachestruct

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Store contract itself is in package storetest; these are the small
// helpers of the tests that exercise one store's own behaviour.

func mustSetC(t *testing.T, s Store, key, value string, opt SetOptions) uint64 {
	t.Helper()
	cas, err := s.Set(context.Background(), key, []byte(value), opt)
	require.NoError(t, err)
	return cas
}

func mustGetC(t *testing.T, s Store, key string, opt GetOptions) Item {
	t.Helper()
	it, found, err := s.Get(context.Background(), key, opt)
	require.NoError(t, err)
	require.True(t, found, "%q must be found", key)
	return it
}

func missC(t *testing.T, s Store, key string) {
	t.Helper()
	_, found, err := s.Get(context.Background(), key, GetOptions{})
	require.NoError(t, err)
	require.False(t, found, "%q must be missing", key)
}
