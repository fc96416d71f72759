package anonymize_test

import "crypto/rand"

var randRead = rand.Read
