package main

import (
	"context"
	"flag"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	_ "github.com/privml/privml/anonymize"
	_ "github.com/privml/privml/internal/dataset"
)

func main() {
	flag.Parse()
	beam.Init()
	p := beam.NewPipeline()
	_ = beamx.Run(context.Background(), p)
}
