package onnx

// window is the geometry of a 2-D sliding window over an H × W image.
type window struct {
	kh, kw, sh, sw, dh, dw int
	pt, pl, pb, pr         int // pads: top, left, bottom, right
	oh, ow                 int
}

// newWindow reads auto_pad, pads, strides and (when dil) dilations for a
// kh × kw kernel over h × w and computes the output size.
func newWindow(c *nodeCtx, h, wd, kh, kw int, dil bool) (*window, error) {
	g := &window{kh: kh, kw: kw}
	st, err := c.a.ints("strides", []int{1, 1}, 2)
	if err != nil {
		return nil, err
	}
	d := []int{1, 1}
	if dil {
		if d, err = c.a.ints("dilations", d, 2); err != nil {
			return nil, err
		}
	}
	g.sh, g.sw, g.dh, g.dw = st[0], st[1], d[0], d[1]
	for _, v := range []int{g.sh, g.sw, g.dh, g.dw} {
		if v < 1 || v > 1<<16 {
			return nil, errorf(ErrModel, "%s: strides %v and dilations %v must lie in 1..65536", c.where, st, d)
		}
	}
	if kh < 1 || kw < 1 || kh > 1<<16 || kw > 1<<16 {
		return nil, errorf(ErrModel, "%s: kernel %d×%d", c.where, kh, kw)
	}
	ekh, ekw := (kh-1)*g.dh+1, (kw-1)*g.dw+1
	ap, err := c.a.str("auto_pad", "NOTSET")
	if err != nil {
		return nil, err
	}
	switch ap {
	case "NOTSET", "":
		p, err := c.a.ints("pads", []int{0, 0, 0, 0}, 4)
		if err != nil {
			return nil, err
		}
		for _, v := range p {
			if v < 0 || v > 1<<16 {
				return nil, errorf(ErrModel, "%s: pads %v", c.where, p)
			}
		}
		g.pt, g.pl, g.pb, g.pr = p[0], p[1], p[2], p[3]
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		same := func(in, s, ek int) (int, int) {
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+ek-in)
			if ap == "SAME_UPPER" {
				return total / 2, total - total/2
			}
			return total - total/2, total / 2
		}
		g.pt, g.pb = same(h, g.sh, ekh)
		g.pl, g.pr = same(wd, g.sw, ekw)
	default:
		return nil, errorf(ErrModel, "%s: auto_pad %q", c.where, ap)
	}
	if h+g.pt+g.pb < ekh || wd+g.pl+g.pr < ekw {
		return nil, errorf(ErrModel, "%s: kernel %d×%d (dilated %d×%d) is larger than the padded %d×%d input", c.where, kh, kw, ekh, ekw, h+g.pt+g.pb, wd+g.pl+g.pr)
	}
	g.oh = (h+g.pt+g.pb-ekh)/g.sh + 1
	g.ow = (wd+g.pl+g.pr-ekw)/g.sw + 1
	return g, nil
}

// taps calls f for every output position (oy, ox) and kernel offset
// (ky, kx) whose input (y, x) lies inside the h × w image.
func (g *window) taps(h, wd int, f func(oy, ox, ky, kx, y, x int)) {
	for oy := range g.oh {
		for ox := range g.ow {
			for ky := range g.kh {
				y := oy*g.sh + ky*g.dh - g.pt
				if y < 0 || y >= h {
					continue
				}
				for kx := range g.kw {
					x := ox*g.sw + kx*g.dw - g.pl
					if x < 0 || x >= wd {
						continue
					}
					f(oy, ox, ky, kx, y, x)
				}
			}
		}
	}
}

// image returns C, H, W of the stream or an error.
func (w *walker) image(c *nodeCtx) (int, int, int, error) {
	if len(w.shape) != 3 {
		return 0, 0, 0, errorf(ErrUnsupported, "%s: input has shape %s; only 2-D images [batch, C, H, W] are supported", c.where, shapeStr(w.shape))
	}
	return w.shape[0], w.shape[1], w.shape[2], nil
}

// conv lowers a 2-D convolution to its im2col matrix: output
// (m, oy, ox) has, at input (ic, y, x), the sum of the kernel weights
// that read that input.
func (w *walker) conv(c *nodeCtx) error {
	if err := c.wantStream(0, 2, 3); err != nil {
		return err
	}
	if err := c.a.only("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"); err != nil {
		return err
	}
	ch, h, wd, err := w.image(c)
	if err != nil {
		return err
	}
	if g, err := c.a.int("group", 1); err != nil || g != 1 {
		if err != nil {
			return err
		}
		return errorf(ErrUnsupported, "%s: group=%d; only group 1 is supported", c.where, g)
	}
	k, err := c.input(1, "W")
	if err != nil {
		return err
	}
	if len(k.dims) != 4 || k.dims[1] != ch {
		return errorf(ErrModel, "%s: weight %q has shape %v, want [M, %d, kH, kW]", c.where, k.name, k.dims, ch)
	}
	kv, err := k.floats(c.where)
	if err != nil {
		return err
	}
	m, kh, kw := k.dims[0], k.dims[2], k.dims[3]
	if ks, err := c.a.ints("kernel_shape", []int{kh, kw}, 2); err != nil || ks[0] != kh || ks[1] != kw {
		if err != nil {
			return err
		}
		return errorf(ErrModel, "%s: kernel_shape %v, weight %q has %v", c.where, ks, k.name, k.dims)
	}
	g, err := newWindow(c, h, wd, kh, kw, true)
	if err != nil {
		return err
	}
	in, out := ch*h*wd, m*g.oh*g.ow
	if err := w.checkMatrix(out, in, c.where); err != nil {
		return err
	}
	var bias []float64
	if len(c.consts) == 3 && c.consts[2] != nil {
		b := c.consts[2]
		if len(b.dims) != 1 || b.dims[0] != m {
			return errorf(ErrModel, "%s: bias %q has shape %v, want [%d]", c.where, b.name, b.dims, m)
		}
		bv, err := b.floats(c.where)
		if err != nil {
			return err
		}
		bias = make([]float64, out)
		for o := range out {
			bias[o] = bv[o/(g.oh*g.ow)]
		}
	}
	l := make([][]float64, out)
	for o := range l {
		l[o] = make([]float64, in)
	}
	for oc := range m {
		for ic := range ch {
			kern := kv[(oc*ch+ic)*kh*kw:]
			g.taps(h, wd, func(oy, ox, ky, kx, y, x int) {
				l[(oc*g.oh+oy)*g.ow+ox][(ic*h+y)*wd+x] += kern[ky*kw+kx]
			})
		}
	}
	var shape *ConvShape
	if kh == kw && g.sh == g.sw && g.dh == 1 && g.dw == 1 && g.pt == g.pl && g.pt == g.pb && g.pt == g.pr {
		shape = &ConvShape{InChannels: ch, Height: h, Width: wd, OutChannels: m, Kernel: kh, Stride: g.sh, Padding: g.pt}
	}
	if err := w.matrix(l, bias, shape, c.where); err != nil {
		return err
	}
	w.shape = []int{m, g.oh, g.ow}
	return nil
}

// avgPool lowers AveragePool: each channel's windows averaged, over the
// inputs inside the image only unless count_include_pad is set.
func (w *walker) avgPool(c *nodeCtx) error {
	if err := c.wantStream(0, 1, 1); err != nil {
		return err
	}
	if err := c.a.only("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"); err != nil {
		return err
	}
	ch, h, wd, err := w.image(c)
	if err != nil {
		return err
	}
	if cm, err := c.a.int("ceil_mode", 0); err != nil || cm != 0 {
		if err != nil {
			return err
		}
		return errorf(ErrUnsupported, "%s: ceil_mode=%d; only 0 is supported", c.where, cm)
	}
	cip, err := c.a.int("count_include_pad", 0)
	if err != nil {
		return err
	}
	ks, err := c.a.ints("kernel_shape", nil, 2)
	if err != nil {
		return err
	}
	if ks == nil {
		return errorf(ErrModel, "%s: kernel_shape is required", c.where)
	}
	g, err := newWindow(c, h, wd, ks[0], ks[1], true)
	if err != nil {
		return err
	}
	return w.pool(c, ch, h, wd, g, cip != 0)
}

func (w *walker) globalAvgPool(c *nodeCtx) error {
	if err := c.wantStream(0, 1, 1); err != nil {
		return err
	}
	if err := c.a.only(); err != nil {
		return err
	}
	ch, h, wd, err := w.image(c)
	if err != nil {
		return err
	}
	g := &window{kh: h, kw: wd, sh: 1, sw: 1, dh: 1, dw: 1, oh: 1, ow: 1}
	return w.pool(c, ch, h, wd, g, false)
}

// pool composes the averaging matrix of window g over ch channels.
func (w *walker) pool(c *nodeCtx, ch, h, wd int, g *window, includePad bool) error {
	in, out := ch*h*wd, ch*g.oh*g.ow
	if err := w.checkMatrix(out, in, c.where); err != nil {
		return err
	}
	l := make([][]float64, out)
	for o := range l {
		l[o] = make([]float64, in)
	}
	count := make([]int, g.oh*g.ow)
	g.taps(h, wd, func(oy, ox, _, _, _, _ int) { count[oy*g.ow+ox]++ })
	for k := range ch {
		g.taps(h, wd, func(oy, ox, _, _, y, x int) {
			d := count[oy*g.ow+ox]
			if includePad {
				d = g.kh * g.kw
			}
			l[(k*g.oh+oy)*g.ow+ox][(k*h+y)*wd+x] += 1 / float64(d)
		})
	}
	if err := w.matrix(l, nil, nil, c.where); err != nil {
		return err
	}
	w.shape = []int{ch, g.oh, g.ow}
	return nil
}
