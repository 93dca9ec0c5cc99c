package redisstore_test

import (
	"testing"

	"github.com/twine-go/twine/internal/redistest"
)

func clusterMasterLost(t *testing.T, c *redistest.Cluster) {}
