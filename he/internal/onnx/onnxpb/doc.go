// Package onnxpb holds the Go types of the ONNX protobuf schema, generated
// by protoc-gen-go from onnx.proto: the file onnx/onnx.proto3 of the ONNX
// project (github.com/onnx/onnx, commit f7546912001bc31e92a238b17068a21b373d882e),
// copied unchanged under the Apache License 2.0 (see LICENSE in this
// folder). The proto3 variant reads the same bytes as the proto2 schema
// that exporters write: repeated scalars are accepted packed or not. One
// difference: proto3 string fields (names, doc strings) must be valid
// UTF-8, as the ONNX IR specification asks, and models breaking that are
// refused as malformed.
//
// Regenerate with protoc 3.21.12 and protoc-gen-go v1.36.12 on the PATH:
//
//	go generate ./he/internal/onnx/onnxpb
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/privml/privml/he/internal/onnx/onnxpb onnx.proto
