package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/privml/privml/he"
)

// File names inside a key folder written by privml he keygen.
const (
	heSecretKeyFile = "secret.key"
	heEvalKeysFile  = "eval.keys"
)

// heFlags holds the flags shared by the key-holding subcommands.
type heFlags struct {
	fs   *flag.FlagSet
	plan *string
	key  *string
}

func newHEFlags(name string, stderr io.Writer) *heFlags {
	fs := flag.NewFlagSet("privml he "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &heFlags{fs: fs,
		plan: fs.String("plan", "", "plan file written by privml he compile"),
		key:  fs.String("key", "", "key folder written by privml he keygen"),
	}
}

// parse parses args and checks that the named flags are set.
func (f *heFlags) parse(args []string, required ...string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &cliError{code: 2, msg: err.Error()}
	}
	if f.fs.NArg() != 0 {
		return usageErr("unexpected arguments %q", f.fs.Args())
	}
	for _, name := range required {
		if f.fs.Lookup(name).Value.String() == "" {
			return usageErr("--%s is required", name)
		}
	}
	return nil
}

// readPlanPath reads a plan file (128-bit parameters only).
func readPlanPath(path string) (*he.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: %w", path, pathErr(err))
	}
	defer f.Close()
	p, err := he.ReadPlan(bufio.NewReader(f), he.Require128)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: %w", path, err)
	}
	return p, nil
}

// readClientKey reads DIR/secret.key for the plan's parameters.
func readClientKey(dir string, plan *he.Plan) (*he.Client, error) {
	path := filepath.Join(dir, heSecretKeyFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, pathErr(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--key %s: mode %v lets others read the secret key; chmod 600 it", path, fi.Mode().Perm())
	}
	c, err := he.ReadClient(bufio.NewReader(f), plan.Parameters())
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return c, nil
}

// readEvalKeys reads DIR/eval.keys, checked against the plan.
func readEvalKeys(dir string, plan *he.Plan) (*he.EvaluationKeys, error) {
	path := filepath.Join(dir, heEvalKeysFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, pathErr(err))
	}
	defer f.Close()
	k, err := he.ReadEvaluationKeysFor(bufio.NewReader(f), plan)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return k, nil
}

// writeFileVia writes a file through a temporary file renamed over it.
func writeFileVia(p namedPath, id fileID, fill func(io.Writer) error) error {
	f, err := newPending(p, id)
	if err != nil {
		return err
	}
	err = f.write(func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := fill(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err == nil {
		if err = os.Rename(f.tmp.Name(), f.target); err != nil {
			err = fmt.Errorf("%s %s: %w", p.flag, p.path, pathErr(err))
		}
	}
	if err != nil {
		os.Remove(f.tmp.Name())
	}
	return err
}

func heKeygen(args []string, stdout, stderr io.Writer) int {
	f := newHEFlags("keygen", stderr)
	out := f.fs.String("out", "", "folder to write secret.key (mode 0600) and eval.keys into")
	force := f.fs.Bool("force", false, "overwrite existing key files")
	if err := f.parse(args, "plan", "out"); err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	plan, err := readPlanPath(*f.plan)
	if err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	skPath, ekPath := filepath.Join(*out, heSecretKeyFile), filepath.Join(*out, heEvalKeysFile)
	if !*force {
		for _, p := range []string{skPath, ekPath} {
			if _, err := os.Lstat(p); err == nil {
				return cliFail(stderr, "privml he keygen", fmt.Errorf("--out %s exists (use --force to overwrite keys)", p))
			}
		}
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return cliFail(stderr, "privml he keygen", fmt.Errorf("--out %s: %w", *out, pathErr(err)))
	}
	c, err := he.NewClient(plan.Parameters())
	if err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	defer c.Close()
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	ek := namedPath{flag: "--out", path: ekPath, write: true}
	if err := writeFileVia(ek, identify(ekPath), func(w io.Writer) error { _, err := keys.WriteTo(w); return err }); err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	if err := c.WriteSecretKeyFile(skPath); err != nil {
		return cliFail(stderr, "privml he keygen", err)
	}
	fmt.Fprintf(stdout, "wrote %s (secret key, mode 0600: keep it private)\n", skPath)
	fmt.Fprintf(stdout, "wrote %s (evaluation keys for the server: %d Galois keys, %.2f MB)\n", ekPath, keys.GaloisKeys(), float64(keys.Bytes())/1e6)
	return 0
}

func heEncrypt(args []string, stdout, stderr io.Writer) int {
	const name = "privml he encrypt"
	f := newHEFlags("encrypt", stderr)
	in := f.fs.String("in", "", "CSV of samples, one per row (a header line is skipped)")
	out := f.fs.String("out", "", "ciphertext file to write")
	force := f.fs.Bool("force", false, "overwrite an existing --out")
	if err := f.parse(args, "plan", "key", "in", "out"); err != nil {
		return cliFail(stderr, name, err)
	}
	paths := []namedPath{{flag: "--out", path: *out, write: true}, {flag: "--in", path: *in}, {flag: "--plan", path: *f.plan}}
	ids, err := checkDistinct(paths)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	if ids[0].info != nil && !*force {
		return cliFail(stderr, name, fmt.Errorf("--out %s exists (use --force to overwrite)", *out))
	}
	plan, err := readPlanPath(*f.plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	c, err := readClientKey(*f.key, plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	defer c.Close()
	rows, err := readSamplesCSV(*in, plan.Model().InputDim)
	if err != nil {
		return cliFail(stderr, name, fmt.Errorf("--in %w", err))
	}
	cts, err := c.Encrypt(plan, rows)
	if err != nil {
		return cliFail(stderr, name, fmt.Errorf("--in %s: %w", *in, err))
	}
	err = writeFileVia(paths[0], ids[0], func(w io.Writer) error {
		for _, ct := range cts {
			if _, err := ct.WriteTo(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return cliFail(stderr, name, err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d samples in %d ciphertexts\n", *out, len(rows), len(cts))
	return 0
}

// readCiphertexts reads back-to-back ciphertexts for params until the end
// of the file.
func readCiphertexts(path string, params he.Parameters) ([]*he.Ciphertext, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, pathErr(err))
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var cts []*he.Ciphertext
	for {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			break
		}
		ct, err := he.ReadCiphertext(br, params)
		if err != nil {
			return nil, fmt.Errorf("%s: ciphertext %d: %w", path, len(cts), err)
		}
		cts = append(cts, ct)
	}
	if len(cts) == 0 {
		return nil, fmt.Errorf("%s: no ciphertext", path)
	}
	return cts, nil
}

func heDecrypt(args []string, stdout, stderr io.Writer) int {
	const name = "privml he decrypt"
	f := newHEFlags("decrypt", stderr)
	in := f.fs.String("in", "", "ciphertext file (the server's output)")
	out := f.fs.String("out", "", "CSV to write, one row of outputs per sample")
	public := f.fs.Bool("public", false, "noise-flooded decryption, safe to share (he.Client.DecryptPublic)")
	sec := f.fs.Int("security", he.DefaultStatisticalSecurity, "--public: statistical security s in bits")
	queries := f.fs.Int("queries", 1, "--public: decryptions of related ciphertexts an observer may see")
	minPrec := f.fs.Float64("min-precision", he.DefaultMinPrecision, "--public: refuse below this many bits of precision")
	force := f.fs.Bool("force", false, "overwrite an existing --out")
	if err := f.parse(args, "plan", "key", "in", "out"); err != nil {
		return cliFail(stderr, name, err)
	}
	paths := []namedPath{{flag: "--out", path: *out, write: true}, {flag: "--in", path: *in}, {flag: "--plan", path: *f.plan}}
	ids, err := checkDistinct(paths)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	if ids[0].info != nil && !*force {
		return cliFail(stderr, name, fmt.Errorf("--out %s exists (use --force to overwrite)", *out))
	}
	plan, err := readPlanPath(*f.plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	c, err := readClientKey(*f.key, plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	defer c.Close()
	cts, err := readCiphertexts(*in, plan.Parameters())
	if err != nil {
		return cliFail(stderr, name, fmt.Errorf("--in %w", err))
	}
	opts := he.PublicDecryption{StatisticalSecurity: *sec, Queries: *queries, MinPrecision: *minPrec}
	var rows [][]float64
	for i, ct := range cts {
		var vals [][]float64
		if *public {
			d, err := c.DecryptPublic(plan, ct, opts)
			if err != nil {
				return cliFail(stderr, name, fmt.Errorf("--in %s: ciphertext %d: %w", *in, i, err))
			}
			if i == 0 {
				fmt.Fprintf(stdout, "flooding: s=%d, sigma %.3g, error bound %.3g (%.1f bits)\n", *sec, d.Sigma, d.ErrorBound, d.Precision)
			}
			vals = d.Values
		} else if vals, err = c.Decrypt(ct); err != nil {
			return cliFail(stderr, name, fmt.Errorf("--in %s: ciphertext %d: %w", *in, i, err))
		}
		rows = append(rows, vals...)
	}
	err = writeFileVia(paths[0], ids[0], func(w io.Writer) error { return writeRowsCSV(w, rows) })
	if err != nil {
		return cliFail(stderr, name, err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d samples\n", *out, len(rows))
	return 0
}

// writeRowsCSV writes one comma-separated row per vector, each value in
// the shortest form that parses back to it.
func writeRowsCSV(w io.Writer, rows [][]float64) error {
	var b []byte
	for _, r := range rows {
		b = b[:0]
		for j, v := range r {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// cliFail prints err after the command name and returns the exit code:
// 2 for usage errors (flag.ErrHelp included), 1 otherwise.
func cliFail(stderr io.Writer, name string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if ce := (*cliError)(nil); errors.As(err, &ce) {
		return ce.code
	}
	return 1
}
