package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/privml/privml/he"
)

func init() {
	register("he", "encrypted inference: compile a model, make keys, encrypt, decrypt, serve and infer", runHE)
}

func runHE(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, heUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "compile":
		return heCompile(args[1:], stdout, stderr)
	case "keygen":
		return heKeygen(args[1:], stdout, stderr)
	case "encrypt":
		return heEncrypt(args[1:], stdout, stderr)
	case "decrypt":
		return heDecrypt(args[1:], stdout, stderr)
	case "serve":
		return heServe(args[1:], stdout, stderr)
	case "infer":
		return heInfer(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "privml he: unknown subcommand %q (want compile, keygen, encrypt, decrypt, serve or infer)\n", args[0])
	return 2
}

const heUsage = `usage: privml he compile --model FILE --out PLAN [--format auto|onnx|json] [--mode latency|batch]
                          [--calibration CSV] [--conv auto|direct|im2col] [--bootstrap] [--force]
       privml he keygen  --plan PLAN --out DIR [--force]
       privml he encrypt --plan PLAN --key DIR --in CSV --out CT [--force]
       privml he decrypt --plan PLAN --key DIR --in CT --out CSV [--public [--security S] [--queries Q]
                          [--min-precision BITS]] [--force]
       privml he serve   --plan PLAN --listen ADDR --tls DIR [--mtls=true] [--session-ttl 10m]
                          [--max-sessions 16] [--max-concurrent N] [--json] [--log-level info]
       privml he infer   --server ADDR --tls DIR --plan PLAN --key DIR --in CSV [--id 0]
                          [--server-name HOST] [--mtls=true] [--timeout 5m] [--public [--security S]]`

func heCompile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("privml he compile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model file: ONNX (ModelProto) or the JSON format of he.Model")
	out := fs.String("out", "", "plan file to write")
	format := fs.String("format", "auto", "model format: auto (by content), onnx or json")
	mode := fs.String("mode", "latency", "packing: latency (one sample per ciphertext) or batch")
	calib := fs.String("calibration", "", "CSV of representative samples (one per row, no label column) to set activation intervals")
	conv := fs.String("conv", "auto", "first-layer convolution packing in latency mode: auto, direct or im2col")
	boot := fs.Bool("bootstrap", false, "allow bootstrapping when the model is deeper than the largest preset")
	force := fs.Bool("force", false, "overwrite an existing plan file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "privml he compile: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *modelPath == "" || *out == "" {
		fmt.Fprintln(stderr, "privml he compile: --model and --out are required")
		return 2
	}
	paths := []namedPath{{flag: "--out", path: *out, write: true}, {flag: "--model", path: *modelPath}}
	if *calib != "" {
		paths = append(paths, namedPath{flag: "--calibration", path: *calib})
	}
	ids, err := checkDistinct(paths)
	if err != nil {
		fmt.Fprintln(stderr, "privml he compile:", err)
		return 2
	}
	if ids[0].info != nil && !*force {
		fmt.Fprintf(stderr, "privml he compile: --out %s exists (use --force to overwrite)\n", *out)
		return 1
	}
	opts := he.CompileOptions{Bootstrap: *boot}
	switch *mode {
	case "latency":
		opts.Mode = he.Latency
	case "batch":
		opts.Mode = he.Batch
	default:
		fmt.Fprintf(stderr, "privml he compile: --mode %q, want latency or batch\n", *mode)
		return 2
	}
	switch *conv {
	case "auto":
	case "direct":
		opts.Conv = he.ConvDirect
	case "im2col":
		opts.Conv = he.ConvIm2col
	default:
		fmt.Fprintf(stderr, "privml he compile: --conv %q, want auto, direct or im2col\n", *conv)
		return 2
	}
	m, err := readHEModel(*modelPath, *format)
	if err != nil {
		fmt.Fprintln(stderr, "privml he compile:", err)
		return 1
	}
	if *calib != "" {
		if opts.Calibration, err = readSamplesCSV(*calib, m.InputDim); err != nil {
			fmt.Fprintln(stderr, "privml he compile:", err)
			return 1
		}
	}
	plan, err := he.Compile(m, opts)
	if err != nil {
		fmt.Fprintln(stderr, "privml he compile:", err)
		return 1
	}
	if err := writePlan(paths[0], ids[0], plan); err != nil {
		fmt.Fprintln(stderr, "privml he compile:", err)
		return 1
	}
	describePlan(stdout, plan, *out)
	return 0
}

// readHEModel reads an ONNX or JSON model; auto takes JSON when the first
// non-space byte is '{' (an ONNX ModelProto starts with a field tag).
func readHEModel(path, format string) (*he.Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if format == "auto" {
		format = "onnx"
		if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = "json"
		}
	}
	var m *he.Model
	switch format {
	case "onnx":
		m, err = he.ReadONNX(bytes.NewReader(b))
	case "json":
		m, err = he.ReadModelJSON(bytes.NewReader(b))
	default:
		return nil, fmt.Errorf("--format %q, want auto, onnx or json", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// readSamplesCSV reads rows of dim numbers; a first line that does not
// parse is taken as a header.
func readSamplesCSV(path string, dim int) ([][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		row := make([]float64, len(fields))
		var perr error
		for k, s := range fields {
			if row[k], perr = strconv.ParseFloat(strings.TrimSpace(s), 64); perr != nil {
				break
			}
		}
		if perr != nil {
			if line == 1 {
				continue
			}
			return nil, fmt.Errorf("%s line %d: %v", path, line, perr)
		}
		if len(row) != dim {
			return nil, fmt.Errorf("%s line %d: %d values, the model takes %d", path, line, len(row), dim)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	return rows, nil
}

// writePlan writes the plan to a temporary file beside the target and
// renames it, so that a failure leaves any existing file as it was.
func writePlan(p namedPath, id fileID, plan *he.Plan) error {
	f, err := newPending(p, id)
	if err != nil {
		return err
	}
	err = f.write(func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if _, err := plan.WriteTo(bw); err != nil {
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

// describePlan prints the plan and, per layer, its shape, activation and
// the approximation settings the planner resolved, then the plan's
// explanation.
func describePlan(w io.Writer, p *he.Plan, path string) {
	fmt.Fprintf(w, "wrote %s: %v\n", path, p)
	fmt.Fprintf(w, "samples per ciphertext: %d\n", p.SamplesPerCiphertext())
	m := p.Model()
	fmt.Fprintf(w, "%-6s %-14s %-9s %s\n", "layer", "in -> out", "act", "details")
	for li, l := range m.Layers {
		var det []string
		if l.Conv != nil {
			c := l.Conv
			det = append(det, fmt.Sprintf("conv %dx%dx%d k=%d s=%d p=%d -> %d channels",
				c.InChannels, c.Height, c.Width, c.Kernel, max(c.Stride, 1), c.Padding, c.OutChannels))
		}
		switch l.Activation {
		case he.ActSigmoid, he.ActTanh:
			det = append(det, fmt.Sprintf("degree %d on [-%g, %g]", l.Degree, l.Interval, l.Interval))
		case he.ActReLU:
			det = append(det, fmt.Sprintf("sign alpha %d on [-%g, %g]", l.Alpha, l.Interval, l.Interval))
		}
		act := string(l.Activation)
		if act == "" {
			act = "-"
		}
		fmt.Fprintf(w, "%-6d %-14s %-9s %s\n", li, fmt.Sprintf("%d -> %d", l.In(), l.Out()), act, strings.Join(det, "; "))
	}
	// The per-layer levels, intervals, noise and expected error, and the
	// precision a public decryption would leave (he.Plan.Explain).
	fmt.Fprintf(w, "\n%s", p.Explain())
}
