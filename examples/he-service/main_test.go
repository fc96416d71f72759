package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary be the server process: the client side
// of the tests starts it with -serve and HE_SERVICE_ROLE=serve.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "serve" {
		if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString("he-service server: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestTwoProcesses classifies 30 test images in both packings with the
// server in a second process over mutual TLS on 127.0.0.1: every argmax
// agrees with plaintext inference, logits within 0.05, and the server
// process is gone afterwards.
func TestTwoProcesses(t *testing.T) {
	for _, mode := range []string{"latency", "batch"} {
		t.Run(mode, func(t *testing.T) {
			var out, errs bytes.Buffer
			err := run([]string{"-mode", mode, "-n", "30", "-epochs", "5", "-json"}, &out, &errs)
			require.NoError(t, err, errs.String())
			var r Result
			require.NoError(t, json.Unmarshal(out.Bytes(), &r), out.String())
			assert.Equal(t, 30, r.Samples)
			assert.Equal(t, 1.0, r.Agreement)
			assert.Equal(t, r.PlainAccuracy, r.EncryptedAccuracy)
			assert.Less(t, r.MaxAbsError, 0.05)
			assert.Greater(t, r.PlainAccuracy, 0.5)
			if mode == "latency" {
				assert.Equal(t, 30, r.Requests)
			} else {
				assert.Equal(t, 1, r.Requests)
			}
			assert.Positive(t, r.RequestBytes)
			assert.Positive(t, r.ResponseBytes)
			require.NotZero(t, r.ServerPID)
			assert.NotEqual(t, os.Getpid(), r.ServerPID, "the server is another process")
			// Waited for by stop: signal 0 finds no such process.
			err = syscall.Kill(r.ServerPID, 0)
			assert.True(t, errors.Is(err, syscall.ESRCH), "server process %d still exists: %v", r.ServerPID, err)
		})
	}
}
