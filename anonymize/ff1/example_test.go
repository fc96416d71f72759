package ff1_test

import (
	"crypto/rand"
	"fmt"

	"github.com/privml/privml/anonymize/ff1"
)

func ExampleCipher_Encrypt() {
	key := make([]byte, 32) // from the caller's key store
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	c, err := ff1.New(key, ff1.Digits)
	if err != nil {
		panic(err)
	}
	tweak := []byte("card-number")
	ct, err := c.Encrypt("4111111111111111", tweak)
	if err != nil {
		panic(err)
	}
	pt, _ := c.Decrypt(ct, tweak)
	fmt.Println(len(ct), pt)
	_, err = c.Encrypt("12345", tweak)
	fmt.Println(err)
	// Output:
	// 16 4111111111111111
	// ff1: domain too small or input too long: length 5, radix 10 needs at least 6 numerals
}
