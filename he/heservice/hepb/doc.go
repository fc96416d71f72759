// Package hepb is the protobuf schema of package he/heservice
// (inference.proto) and its generated Go code. Evaluation keys and
// ciphertexts travel in bytes fields in package he's own versioned
// encodings; the schema adds the session framing (plan digest, session
// id, key chunks).
//
// Regenerate with protoc 3.21 or later, protoc-gen-go v1.36.12 and
// protoc-gen-go-grpc v1.6.2 on the PATH:
//
//	go generate ./he/heservice/hepb
package hepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative inference.proto
