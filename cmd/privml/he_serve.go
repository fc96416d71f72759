package main

import "io"

func heServe(args []string, stdout, stderr io.Writer) int { return 2 }
func heInfer(args []string, stdout, stderr io.Writer) int { return 2 }
