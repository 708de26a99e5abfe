// Package browser drives a real browser (Debian's headless Chromium,
// through chromedp) against make run's environment: Label Studio behind the
// front door, this service's file route, the fake workspace. Its test
// (build tag integration) proves that an annotator's labeling page renders
// images and seeks audio served by the file route. This file makes the
// media it serves.
package browser

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
)

// PNG is a width×height picture (a gradient with a few bands), encoded.
func PNG(width, height int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		for x := range width {
			c := color.RGBA{R: uint8(255 * x / max(width-1, 1)), G: uint8(255 * y / max(height-1, 1)), B: 160, A: 255}
			if (x/40+y/40)%2 == 0 {
				c.B = 60
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory RGBA image cannot fail
	}
	return b.Bytes()
}

// WAV is seconds of a 440 Hz tone, 16-bit stereo PCM at 44.1 kHz (176,400
// bytes a second), as a RIFF/WAVE file.
func WAV(seconds int) []byte {
	const rate, channels, bits = 44100, 2, 16
	frames := rate * seconds
	data := frames * channels * bits / 8
	var b bytes.Buffer
	b.Grow(44 + data)
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + data))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1)) // PCM
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * channels * bits / 8))
	w(uint16(channels * bits / 8))
	w(uint16(bits))
	b.WriteString("data")
	w(uint32(data))
	samples := make([]byte, data)
	for i := range frames {
		v := uint16(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
		binary.LittleEndian.PutUint16(samples[4*i:], v)
		binary.LittleEndian.PutUint16(samples[4*i+2:], v)
	}
	b.Write(samples)
	return b.Bytes()
}
