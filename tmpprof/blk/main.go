package main

import (
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/privml/privml/internal/prg"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	runtime.LockOSThread()
	const n, masks = 1_000_000, 64
	ms := make([]*prg.Mask, masks)
	seeds := make([][32]byte, masks)
	for i := range ms {
		seeds[i][0] = byte(i)
		ms[i] = prg.NewMask(&seeds[i])
	}
	x := make([]uint32, n)
	for rep := 0; rep < 3; rep++ {
		c := cpu()
		for i := range seeds {
			prg.ExpandAddMod32(x, &seeds[i], 32)
		}
		fmt.Printf("whole %v/mask\n", (cpu()-c)/masks)
		for _, piece := range []int{4096, 8192, 16384, 32768, 65536, 131072} {
			c := cpu()
			for lo := 0; lo < n; lo += piece {
				hi := min(lo+piece, n)
				for _, m := range ms {
					m.AddMod32At(x[lo:hi], lo, 32)
				}
			}
			fmt.Printf("piece %d %v/mask\n", piece, (cpu()-c)/masks)
		}
	}
}
