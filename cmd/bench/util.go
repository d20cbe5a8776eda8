// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// logf prints progress to stderr: the measurements go to the results.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run runs a command and returns its combined output, failing with it.
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile (p in 0..100) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procStat is what /proc/PID/stat says about CPU: user and system time in
// clock ticks, the process's own threads (dead ones included).
type procStat struct {
	MinFlt, MajFlt int64 // page faults, all threads
	Utime, Stime   int64
	CUtime, CStime int64 // waited-for children
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	num := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procStat{MinFlt: num(10), MajFlt: num(12), Utime: num(14), Stime: num(15), CUtime: num(16), CStime: num(17)}, nil
}

// schedCPU sums the first field of /proc/PID/task/*/schedstat: nanoseconds
// each live thread spent on a CPU. tids are the threads it saw.
func schedCPU(pid int) (ns int64, tids []string, err error) {
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(dirs) == 0 {
		return 0, nil, fmt.Errorf("no /proc/%d/task/*/schedstat (is the process alive?)", pid)
	}
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		v, _ := strconv.ParseInt(f[0], 10, 64)
		ns += v
		tids = append(tids, filepath.Base(filepath.Dir(p)))
	}
	return ns, tids, nil
}

// ctxSwitches sums voluntary and involuntary context switches over the
// live threads of pid.
func ctxSwitches(pid int) int64 {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n int64
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
	}
	return n
}

// shellQuote renders args as a shell command line.
func shellQuote(args []string) string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$\\*?[]{}()<>|&;#~`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// memStatus reads VmRSS, RssAnon, RssFile and RssShmem (kB) from
// /proc/PID/status.
type memStatus struct {
	VmRSS, RssAnon, RssFile, RssShmem, VmHWM int64
}

func readMem(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	var m memStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.VmRSS = n
		case "RssAnon":
			m.RssAnon = n
		case "RssFile":
			m.RssFile = n
		case "RssShmem":
			m.RssShmem = n
		case "VmHWM":
			m.VmHWM = n
		}
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times.
var clockTicks = func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// load1 is the 1-minute load average.
func load1() float64 {
	f := strings.Fields(loadavg())
	if len(f) == 0 {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// zeroNonFinite sets every NaN or infinite float reachable from v (through
// pointers, structs, slices, arrays and maps) to 0 and returns where they
// were, as path.Field[index].
func zeroNonFinite(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return zeroNonFinite(v.Elem(), path)
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			if v.CanSet() {
				v.SetFloat(0)
			}
			return []string{path}
		}
	case reflect.Struct:
		var out []string
		for k := range v.NumField() {
			if v.Type().Field(k).IsExported() {
				out = append(out, zeroNonFinite(v.Field(k), path+"."+v.Type().Field(k).Name)...)
			}
		}
		return out
	case reflect.Slice, reflect.Array:
		var out []string
		for k := range v.Len() {
			out = append(out, zeroNonFinite(v.Index(k), fmt.Sprintf("%s[%d]", path, k))...)
		}
		return out
	case reflect.Map:
		// Map values are not addressable: each is fixed in a copy, put back.
		var out []string
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			if none := zeroNonFinite(e, fmt.Sprintf("%s[%v]", path, it.Key())); len(none) > 0 {
				v.SetMapIndex(it.Key(), e)
				out = append(out, none...)
			}
		}
		return out
	}
	return nil
}
