// Package transportpb is the protobuf schema of package federated/transport
// (transport.proto) and its generated Go code. Secure-aggregation messages
// travel in bytes fields in their own versioned encodings; the schema adds
// the framing (session, round, stage), the round configuration and result,
// and the chunked streams: masked vectors up, the server's messages down.
//
// Regenerate with protoc 3.21 or later, protoc-gen-go v1.36.12 and
// protoc-gen-go-grpc v1.6.2 on the PATH:
//
//	go generate ./federated/transport/transportpb
package transportpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative transport.proto
