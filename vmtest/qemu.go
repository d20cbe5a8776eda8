// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/multinic-agent/multinic-agent/vmtest/proto"
)

// NIC is a virtio NIC of the VM with a fixed MAC.
type NIC struct {
	MAC string
}

// Options describe the VM.
type Options struct {
	Disk Disk
	Dir  string // sockets and the console log go here
	// Mgmt is the management NIC's MAC: user-mode networking with
	// restrict=on (nothing outside the machine is reachable), the health
	// port forwarded from 127.0.0.1:HostPort.
	Mgmt     string
	HostPort int
	// NICs are the secondary NICs, each on a hub of its own that leads
	// nowhere.
	NICs []NIC
	// HotplugSlots are PCIe root ports (and a hub port each) for NICs
	// plugged in later; they are named hp0, hp1, ...
	HotplugSlots int
	CPUs         int
	MemoryMB     int
	// Append is added to the kernel command line.
	Append string
}

// VM is a running qemu-system-x86_64.
type VM struct {
	Console string // the serial console's log file
	cmd     *exec.Cmd
	exited  chan error
	ctlLn   net.Listener
	qmp     *qmp
	opts    Options
}

// Start boots the VM. Its control port connects to a socket the host
// listens on before qemu starts, so no message is lost.
func Start(ctx context.Context, o Options) (*VM, error) {
	ctlPath := filepath.Join(o.Dir, "ctl.sock")
	qmpPath := filepath.Join(o.Dir, "qmp.sock")
	os.Remove(ctlPath)
	os.Remove(qmpPath)
	ln, err := net.Listen("unix", ctlPath)
	if err != nil {
		return nil, err
	}
	v := &VM{Console: filepath.Join(o.Dir, "console.log"), ctlLn: ln, exited: make(chan error, 1), opts: o}
	args := []string{
		"-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(o.CPUs), "-m", strconv.Itoa(o.MemoryMB),
		"-display", "none", "-vga", "none", "-nodefaults", "-no-user-config",
		"-serial", "file:" + v.Console,
		"-qmp", "unix:" + qmpPath + ",server=on,wait=off",
		"-kernel", o.Disk.Kernel, "-initrd", o.Disk.Initrd,
		"-append", "console=ttyS0 root=/dev/vda rw " + proto.Guard + " " + o.Append,
		"-drive", "file=" + o.Disk.Image + ",if=virtio,format=raw,cache=unsafe",
		"-chardev", "socket,id=ctl,path=" + ctlPath,
		"-device", "virtio-serial-pci,id=vser",
		"-device", "virtserialport,chardev=ctl,name=" + proto.Port,
		"-nic", "none",
		"-netdev", fmt.Sprintf("user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:%d-:8080", o.HostPort),
		// romfile= : no iPXE option ROM (nothing boots from the network).
		"-device", "virtio-net-pci,netdev=mgmt,romfile=,mac=" + o.Mgmt,
	}
	for k, n := range o.NICs {
		id := fmt.Sprintf("n%d", k+1)
		args = append(args, "-netdev", fmt.Sprintf("hubport,id=%s,hubid=%d", id, k+1),
			"-device", "virtio-net-pci,netdev="+id+",romfile=,mac="+n.MAC)
	}
	for k := 0; k < o.HotplugSlots; k++ {
		args = append(args,
			"-device", fmt.Sprintf("pcie-root-port,id=rp%d,bus=pcie.0,addr=0x%x,chassis=%d", k, 0x10+k, k+1),
			"-netdev", fmt.Sprintf("hubport,id=hpnet%d,hubid=%d", k, 100+k))
	}
	v.cmd = exec.Command("qemu-system-x86_64", args...)
	qlog, err := os.Create(filepath.Join(o.Dir, "qemu.log"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	v.cmd.Stdout, v.cmd.Stderr = qlog, qlog
	if err := v.cmd.Start(); err != nil {
		ln.Close()
		qlog.Close()
		return nil, err
	}
	go func() { v.exited <- v.cmd.Wait(); qlog.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", qmpPath)
		if err == nil {
			v.qmp, err = newQMP(c)
			if err != nil {
				v.Kill()
				return nil, fmt.Errorf("QMP: %w", err)
			}
			break
		}
		if time.Now().After(deadline) {
			v.Kill()
			return nil, fmt.Errorf("qemu's QMP socket did not answer in 30s: %w (see %s)", err, qlog.Name())
		}
		select {
		case err := <-v.exited:
			v.exited <- err
			b, _ := os.ReadFile(qlog.Name())
			return nil, fmt.Errorf("qemu exited: %v\n%s", err, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return v, nil
}

// Control waits for qemu to connect the control port.
func (v *VM) Control(ctx context.Context) (*proto.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := v.ctlLn.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return proto.NewConn(r.c), nil
	case err := <-v.exited:
		v.exited <- err
		return nil, fmt.Errorf("qemu exited before connecting the control port: %v", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Exited is closed (receives qemu's exit) when qemu ends.
func (v *VM) Exited() <-chan error { return v.exited }

// Kill ends qemu now.
func (v *VM) Kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
	v.ctlLn.Close()
}

// Wait waits up to d for qemu to exit (the guest powered off).
func (v *VM) Wait(d time.Duration) error {
	select {
	case err := <-v.exited:
		v.exited <- err
		return err
	case <-time.After(d):
		return fmt.Errorf("qemu still runs after %s", d)
	}
}

// HotplugAdd plugs a virtio NIC with mac into the free hot-plug slot slot.
func (v *VM) HotplugAdd(id string, slot int, mac string) error {
	_, err := v.qmp.do("device_add", map[string]any{
		"driver": "virtio-net-pci", "id": id, "netdev": fmt.Sprintf("hpnet%d", slot),
		"mac": mac, "bus": fmt.Sprintf("rp%d", slot), "romfile": "",
	})
	return err
}

// HotplugDel unplugs device id and waits until the guest let it go.
func (v *VM) HotplugDel(id string, within time.Duration) error {
	wait := v.qmp.expect("DEVICE_DELETED", id)
	if _, err := v.qmp.do("device_del", map[string]any{"id": id}); err != nil {
		return err
	}
	select {
	case <-wait:
		return nil
	case <-time.After(within):
		return fmt.Errorf("the guest did not release %s within %s", id, within)
	}
}

// qmp is a client of qemu's machine protocol: commands one at a time,
// events delivered to whoever expects them.
type qmp struct {
	c    net.Conn
	enc  *json.Encoder
	mu   sync.Mutex // one command at a time
	resp chan qmpMsg
	emu  sync.Mutex
	want map[string]chan struct{} // event/device id -> waiter
}

type qmpMsg struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
	Data  struct {
		Device string `json:"device"`
	} `json:"data"`
	QMP json.RawMessage `json:"QMP"`
}

func newQMP(c net.Conn) (*qmp, error) {
	q := &qmp{c: c, enc: json.NewEncoder(c), resp: make(chan qmpMsg, 1), want: map[string]chan struct{}{}}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var greeting qmpMsg
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(line, &greeting); err != nil || greeting.QMP == nil {
		return nil, fmt.Errorf("unexpected greeting %q", line)
	}
	c.SetReadDeadline(time.Time{})
	go q.read(r)
	if _, err := q.do("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *qmp) read(r *bufio.Reader) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			close(q.resp)
			return
		}
		var m qmpMsg
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if m.Event != "" {
			q.emu.Lock()
			if ch, ok := q.want[m.Event+"/"+m.Data.Device]; ok {
				close(ch)
				delete(q.want, m.Event+"/"+m.Data.Device)
			}
			q.emu.Unlock()
			continue
		}
		q.resp <- m
	}
}

func (q *qmp) expect(event, device string) <-chan struct{} {
	ch := make(chan struct{})
	q.emu.Lock()
	q.want[event+"/"+device] = ch
	q.emu.Unlock()
	return ch
}

func (q *qmp) do(cmd string, args map[string]any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	if err := q.enc.Encode(req); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-q.resp:
		if !ok {
			return nil, io.EOF
		}
		if m.Error != nil {
			return nil, errors.New(cmd + ": " + m.Error.Desc)
		}
		return m.Return, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer from qemu in 30s", cmd)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
