// This is a generated file. Do not edit directly.

module k8s.io/api

go 1.20

require github.com/gogo/protobuf v1.3.2
