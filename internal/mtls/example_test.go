package mtls_test

import (
	"fmt"
	"log"
	"os"

	"github.com/privml/privml/internal/mtls"
)

// Example writes a development PKI for three clients and loads the
// server's configuration, one client's, and the roster of identities.
func Example() {
	dir, err := os.MkdirTemp("", "pki")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := mtls.WriteDevPKI(dir, mtls.DevPKI{Clients: 3}); err != nil {
		log.Fatal(err)
	}
	srv, err := mtls.LoadServerConfig(dir)
	if err != nil {
		log.Fatal(err)
	}
	cli, err := mtls.LoadClientConfig(dir, 1, "localhost")
	if err != nil {
		log.Fatal(err)
	}
	roster, err := mtls.LoadRoster(dir, 3)
	if err != nil {
		log.Fatal(err)
	}
	id, _ := mtls.ClientID(cli.Certificates[0].Leaf)
	fmt.Println(srv.MinVersion == cli.MinVersion, id, len(roster))
	// Output:
	// true 1 3
}
