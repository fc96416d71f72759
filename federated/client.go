package federated

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Tensor is one named block of a model's parameters, stored flat in
// row-major order inside the parameter vector.
type Tensor struct {
	Name string
	Dims []int
}

// Size returns the number of parameters of t (the product of its dims).
func (t Tensor) Size() int {
	n := 1
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape describes how a flat []float64 parameter vector splits into the
// model's tensors, in order. Any Go model fits: the server only ever sees
// the flat vector.
type Shape []Tensor

// Size returns the total number of parameters.
func (s Shape) Size() int {
	n := 0
	for _, t := range s {
		n += t.Size()
	}
	return n
}

// Check reports an error if a tensor has no name or a non-positive dim.
func (s Shape) Check() error {
	if len(s) == 0 {
		return fmt.Errorf("%w: empty model shape", ErrConfig)
	}
	for i, t := range s {
		if t.Name == "" || len(t.Dims) == 0 {
			return fmt.Errorf("%w: tensor %d of the model shape has no name or no dims", ErrConfig, i)
		}
		for _, d := range t.Dims {
			if d <= 0 || d > 1<<28 {
				return fmt.Errorf("%w: tensor %q has dim %d", ErrConfig, t.Name, d)
			}
		}
	}
	if s.Size() > 1<<28 {
		return fmt.Errorf("%w: model has %d parameters, at most %d", ErrConfig, s.Size(), 1<<28)
	}
	return nil
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, t := range s {
		parts[i] = fmt.Sprintf("%s%v", t.Name, t.Dims)
	}
	return strings.Join(parts, " ")
}

// Task is what the server hands a sampled client in a round.
type Task struct {
	// Round is the round number, from 1.
	Round int
	// Global is the current global model. It is shared between the clients
	// of the round: read it, never write it.
	Global []float64
	// Rand is the client's source of randomness for this round (batch
	// order, dropout masks). It is seeded from Config.InsecureSeed in a
	// reproducible simulation and from crypto/rand otherwise.
	Rand *rand.Rand
}

// Update is a client's answer: its model delta, w_local - w_global, and
// its weight in the average (for example its number of examples). With
// client-level differential privacy every client counts once and Weight
// is ignored.
type Update struct {
	Delta  []float64
	Weight float64
}

// Client is the user's training code for one participant. The server calls
// Train on every sampled client of a round, concurrently for different
// clients (never twice at once for the same one).
type Client interface {
	Train(task Task) (Update, error)
}

// ClientFunc adapts a function to [Client].
type ClientFunc func(task Task) (Update, error)

// Train calls f(task).
func (f ClientFunc) Train(task Task) (Update, error) { return f(task) }

// Availability is the simulated behaviour of a sampled client in a round:
// whether it drops out, and at which protocol step, and how long its
// training and upload take. The server compares Latency with
// Config.Deadline: a client that is late misses the round and counts as a
// dropout.
type Availability struct {
	// Drop is the step at which the client disappears: DropNever, or one
	// of the steps of a secure round (a plaintext round treats every step
	// as "no report").
	Drop DropStep
	// Latency is the time from the start of the round to the arrival of
	// the client's update.
	Latency time.Duration
}

// DropStep is the protocol step before which a client drops out.
type DropStep uint8

// The steps at which a simulated client can drop out. With secure
// aggregation they are the rounds of package secagg: before advertising
// its keys, before sharing them, before sending its masked input (also
// the fate of a client late for the deadline) and before unmasking.
const (
	DropNever DropStep = iota
	DropBeforeAdvertise
	DropBeforeShare
	DropBeforeInput
	DropBeforeUnmask
)

func (d DropStep) String() string {
	switch d {
	case DropNever:
		return "never"
	case DropBeforeAdvertise:
		return "before advertising keys"
	case DropBeforeShare:
		return "before sharing keys"
	case DropBeforeInput:
		return "before sending its input"
	case DropBeforeUnmask:
		return "before unmasking"
	}
	return fmt.Sprintf("DropStep(%d)", uint8(d))
}

// reported says whether a client with this fate delivers an input.
func (d DropStep) reported() bool { return d == DropNever || d == DropBeforeUnmask }
