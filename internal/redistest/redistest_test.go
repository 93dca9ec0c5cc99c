package redistest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/redistest"
)

func TestStartServesCommands(t *testing.T) {
	s := redistest.Start(t)
	got, err := redistest.Do(s.Addr(), "SET", "k", "v w")
	require.NoError(t, err)
	assert.Equal(t, "OK", got)
	got, err = redistest.Do(s.Addr(), "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "v w", got)
	got, err = redistest.Do(s.Addr(), "NOSUCH")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(got, "-ERR"), got)
	s.Stop()
	_, err = redistest.Do(s.Addr(), "PING")
	require.Error(t, err)
}

func TestClusterOfThreeMasters(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	require.Len(t, c.Masters(), 3)
	info, err := redistest.Do(c.Servers[0].Addr(), "CLUSTER", "INFO")
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_state:ok")
	assert.Contains(t, info, "cluster_slots_assigned:16384")
	assert.Contains(t, info, "cluster_known_nodes:3")
}
