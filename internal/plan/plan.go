// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package plan decides what a reconcile changes. Build is a pure function
// of the rows, the live links and the owned files: it reads and writes
// nothing, so every decision can be printed (`multinic-agent plan`) and
// tested without a kernel or a database.
package plan

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/multinic-agent/multinic-agent/internal/claims"
	"github.com/multinic-agent/multinic-agent/internal/netconf"
)

// Kind is what an action does.
type Kind int

// Actions, in the order they are applied for one interface.
const (
	WriteFile Kind = iota
	// Adopt rewrites, as the agent's own, a file the previous generation
	// of multinic-agent wrote at the same path; the old one is backed up.
	Adopt
	DeleteFile
	Rename
	SetMTU
	// DisableRA sets the link's IPv6 accept_ra and autoconf to 0 before it
	// is up: a managed NIC never learns addresses or routes from the network.
	DisableRA
	DelAddr
	AddAddr
	SetUp
	SetDown
)

// Action is one change to a file or a link.
type Action struct {
	Kind Kind
	// Drift names what was found different on an interface that had been
	// configured (file, name, mtu, address, state); empty otherwise.
	Drift string
	Path  string // WriteFile, DeleteFile: path on the node
	Old   []byte // previous content; nil when the file did not exist
	New   []byte
	Mode  fs.FileMode // WriteFile: mode to write
	// OldMode is the previous file's mode, for restoring it.
	OldMode fs.FileMode
	// Backup is set when Old is the previous multinic-agent's file: a copy
	// is kept before it is replaced or deleted.
	Backup      bool
	From, To    string // Rename
	OldMTU, MTU int    // SetMTU
	Addr        netip.Prefix
}

func (a Action) String() string {
	switch a.Kind {
	case WriteFile:
		if a.Old == nil {
			return "create " + a.Path
		}
		return "rewrite " + a.Path
	case Adopt:
		return "adopt " + a.Path + " (written by the previous multinic-agent): back it up, rewrite it as the agent's own"
	case DeleteFile:
		return "delete " + a.Path
	case Rename:
		return fmt.Sprintf("rename %s -> %s", a.From, a.To)
	case SetMTU:
		return fmt.Sprintf("set mtu %d -> %d", a.OldMTU, a.MTU)
	case DisableRA:
		return "stop learning from router advertisements: IPv6 accept_ra 0, autoconf 0"
	case DelAddr:
		return "remove address " + a.Addr.String()
	case AddAddr:
		return "add address " + a.Addr.String()
	case SetUp:
		return "set link up"
	case SetDown:
		return "set link down"
	}
	return "unknown action"
}

// Touches reports whether the action changes the kernel (not only files).
func (a Action) Touches() bool { return a.Kind >= Rename }

// Interface states, as status and health report them.
const (
	StateConfigured = "configured"
	StatePending    = "pending"
	StateFailed     = "failed"
	StateDrifted    = "drifted"
	StateMissing    = "nic-missing"
)

// Iface is the plan for one row.
type Iface struct {
	Row  Row
	Want netconf.Iface
	// Link is the NIC carrying the row's MAC, nil when there is none.
	Link *Link
	// Err is why nothing is done for the row (bad data, unsafe link); its
	// Kind is Validation, Protected or Conflict.
	Err     error
	Actions []Action
	// Claims are the entries of configuration that is not the agent's that
	// also take in the row's NIC (by MAC or by the name it gets); the row
	// fails when one of them takes effect on this node.
	Claims []Claim
}

// Claim is another configuration's entry for a row's NIC.
type Claim struct {
	claims.Claim
	// TakesEffect is set when something on this node reads it before the
	// agent's own file.
	TakesEffect bool
}

func (i *Iface) fail(kind ErrorKind, err error) {
	i.Err = Classed(kind, err)
}

// State is the row's state before the plan is applied.
func (i Iface) State() string {
	switch {
	case i.Err != nil:
		return StateFailed
	case i.Link == nil:
		return StateMissing
	case len(i.Actions) == 0:
		return StateConfigured
	case i.Row.Success && slices.ContainsFunc(i.Actions, func(a Action) bool { return a.Drift != "" }):
		return StateDrifted
	}
	// Taking over the previous agent's files is no drift.
	return StatePending
}

// WantSuccess is the netplan_success the row should hold if the plan is
// applied without error.
func (i Iface) WantSuccess() bool { return i.Err == nil && i.Link != nil }

// Orphan is an owned interface whose MAC is in no row.
type Orphan struct {
	Name  string
	MAC   string // empty when the file could not be parsed
	Files []netconf.Owned
	Link  *Link
	// Confirmed is set when the row was also absent from the previous
	// successful read: only then are the actions applied.
	Confirmed bool
	// Kept says why an orphan is left alone (its link is protected).
	Kept    string
	Actions []Action
}

// Plan is everything one reconcile would change.
type Plan struct {
	Ifaces  []Iface
	Orphans []Orphan
	// Absent lists the orphan file paths of this read; pass it as the next
	// Build's PrevAbsent once this read is known to be good.
	Absent []string
}

// Input is what Build decides from.
type Input struct {
	Rows  []Row
	Links []Link
	Files []netconf.Owned
	// Protected maps link indexes that must never be changed to the reason.
	Protected map[int]string
	// DefaultRoute holds the links carrying a default route. They are
	// never changed either, but for the agent's own NICs (named multinicN,
	// with the agent's files for their MAC): a route that arrives on one
	// of those does not lock the agent out of it.
	DefaultRoute map[int]bool
	// Render returns the files that make an interface persistent (the
	// backend's), Same whether a file found on the node says what a
	// rendered one says (nil: the same bytes).
	Render func(netconf.Iface) []netconf.File
	Same   func(path string, content, want []byte) bool
	// Claims are what configuration that is not the agent's says about
	// NICs, and ClaimsRead the families of it that take effect on this node.
	Claims     []claims.Claim
	ClaimsRead map[string]bool
	// Reserved are addresses no row's subnet may take in: the database's
	// and the default gateways'. The networks of the links the agent never
	// changes are reserved too, from Links.
	Reserved []Reserved
	// PrevAbsent holds the orphan paths of the previous successful read.
	PrevAbsent map[string]bool
	// ReadTogether, when set, reports the paths whose files the backend's
	// activation reads all at once (netconf.ReadTogether).
	ReadTogether func(path string) bool
}

func (in Input) same(path string, content, want []byte) bool {
	if in.Same != nil {
		return in.Same(path, content, want)
	}
	return bytes.Equal(content, want)
}

// Pending reports whether applying p would change anything: a file, a
// link, or a row's netplan_success.
func (p Plan) Pending() bool {
	for _, i := range p.Ifaces {
		if len(i.Actions) > 0 || i.WantSuccess() != i.Row.Success {
			return true
		}
	}
	for _, o := range p.Orphans {
		if o.Kept == "" {
			return true
		}
	}
	return false
}

// Blocked lists the rows a reconcile cannot apply now: their data or their
// NIC is refused, or their NIC is not there. A plan with blocked rows is
// never in sync, even with nothing to change.
func (p Plan) Blocked() []int64 {
	var ids []int64
	for _, it := range p.Ifaces {
		if it.Err != nil || it.Link == nil {
			ids = append(ids, it.Row.ID)
		}
	}
	return ids
}

// copyable MAC holders: links of these kinds take a MAC from another link,
// so they are never the NIC a row means.
var derivedKinds = map[string]bool{
	"bridge": true, "bond": true, "team": true, "vlan": true,
	"macvlan": true, "macvtap": true, "ipvlan": true, "ipvtap": true,
}

// Build decides what to change. It does no I/O.
func Build(in Input) Plan {
	var p Plan
	rows := append([]Row(nil), in.Rows...)
	sort.Slice(rows, func(a, b int) bool { return rows[a].ID < rows[b].ID })

	byMAC := map[string][]*Link{}
	linkByName := map[string]*Link{}
	for k := range in.Links {
		l := &in.Links[k]
		linkByName[l.Name] = l
		if l.MAC != "" && !derivedKinds[l.Kind] {
			byMAC[l.MAC] = append(byMAC[l.MAC], l)
		}
	}
	filesByPath := map[string]netconf.Owned{}
	for _, f := range in.Files {
		filesByPath[f.Path] = f
	}

	// Validate every row; remember every MAC that has a row, valid or not,
	// so that a row with a bad address never gets its NIC's files removed.
	p.Ifaces = make([]Iface, len(rows))
	slots := 0 // valid rows so far: only they take one of the ten names
	rowMACs := map[string]bool{}
	macRows := map[string][]int{}
	addrRows := map[netip.Addr][]int{}
	for k, r := range rows {
		it := &p.Ifaces[k]
		it.Row = r
		var err error
		if it.Want, err = validate(r); err != nil {
			it.fail(Validation, err)
		}
		if it.Want.MAC != "" {
			rowMACs[it.Want.MAC] = true
		}
		if it.Err == nil && len(macRows[it.Want.MAC]) == 0 {
			// A bad row or a second row for a MAC takes no slot.
			if slots >= netconf.MaxInterfaces {
				it.fail(Validation, fmt.Errorf("row %d: this node already has %d valid rows and at most %d are configured (lowest ids first)", r.ID, slots, netconf.MaxInterfaces))
			}
			slots++
		}
		if it.Err == nil {
			macRows[it.Want.MAC] = append(macRows[it.Want.MAC], k)
			if it.Want.Addr.IsValid() {
				addrRows[it.Want.Addr.Addr()] = append(addrRows[it.Want.Addr.Addr()], k)
			}
		}
	}
	markDuplicates(p.Ifaces, macRows, "macaddress")
	markDuplicates(p.Ifaces, addrRows, "address")
	checkReserved(p.Ifaces, in)

	// Find each row's NIC and refuse unsafe ones.
	addrOwner := map[netip.Addr]*Link{}
	for k := range in.Links {
		for _, a := range in.Links[k].Addrs {
			addrOwner[a.Addr()] = &in.Links[k]
		}
	}
	for k := range p.Ifaces {
		it := &p.Ifaces[k]
		if it.Err != nil {
			continue
		}
		cands := byMAC[it.Want.MAC]
		switch {
		case len(cands) == 0:
			continue
		case len(cands) > 1:
			it.fail(Protected, fmt.Errorf("row %d: several links carry MAC %s (%s); refusing to guess", it.Row.ID, it.Want.MAC, names(cands)))
			continue
		}
		l := cands[0]
		it.Link = l
		if why, ok := protection(in, l); ok {
			it.fail(Protected, fmt.Errorf("row %d: link %s (MAC %s) %s; it is never changed", it.Row.ID, l.Name, l.MAC, why))
			continue
		}
		if l.Master != 0 {
			it.fail(Protected, fmt.Errorf("row %d: link %s (MAC %s) is a port of another link (index %d); it is never changed", it.Row.ID, l.Name, l.MAC, l.Master))
			continue
		}
		if up := upper(in.Links, l.Index); up != nil {
			it.fail(Protected, fmt.Errorf("row %d: link %s (MAC %s) carries link %s (%s) on top of it, which a change would disturb; it is never changed", it.Row.ID, l.Name, l.MAC, up.Name, up.Kind))
			continue
		}
		if slices.Contains(l.DADFailed, it.Want.Addr) {
			it.fail(Conflict, fmt.Errorf("row %d: address %s failed IPv6 duplicate address detection on %s: another host on that network uses it; once that is resolved, `ip address del %s dev %s` and the agent adds it again", it.Row.ID, it.Want.Addr.Addr(), l.Name, it.Want.Addr, l.Name))
			continue
		}
	}

	assignNames(p.Ifaces, in.Links, in.Files)
	checkClaims(p.Ifaces, in)

	// Decide each row's actions, knowing every path some row writes: a
	// file of one row's MAC at another row's path is that row's to rewrite,
	// not this one's to delete.
	rendered := map[string]bool{}
	wants := make([][]netconf.File, len(p.Ifaces))
	for k := range p.Ifaces {
		if p.Ifaces[k].Want.Name == "" {
			continue
		}
		wants[k] = in.Render(p.Ifaces[k].Want)
		for _, f := range wants[k] {
			rendered[f.Path] = true
		}
	}
	for k := range p.Ifaces {
		it := &p.Ifaces[k]
		if it.Want.Name == "" || it.Err != nil || it.Link == nil {
			continue
		}
		acts, err := ifaceActions(it, in.same, wants[k], in.Files, filesByPath, rendered)
		if err != nil {
			it.fail(Conflict, err)
			continue
		}
		it.Actions = acts
	}

	p.Orphans, p.Absent = orphans(in, rowMACs, rendered, byMAC)
	holdReadTogether(&p, in)
	checkAddressMoves(&p, addrOwner)
	return p
}

// holdReadTogether fails the rows, and keeps the orphans, that would change
// a file the backend's activation reads together with one the agent cannot
// read: that activation can only fail, and the change would be applied and
// rolled back at every retry.
func holdReadTogether(p *Plan, in Input) {
	if in.ReadTogether == nil {
		return
	}
	var stuck *netconf.Owned
	for k := range in.Files {
		if f := &in.Files[k]; f.Unreadable && in.ReadTogether(f.Path) {
			stuck = f
			break
		}
	}
	if stuck == nil {
		return
	}
	touches := func(acts []Action) bool {
		return slices.ContainsFunc(acts, func(a Action) bool { return a.Path != "" && in.ReadTogether(a.Path) })
	}
	for k := range p.Ifaces {
		it := &p.Ifaces[k]
		if it.Err == nil && touches(it.Actions) {
			it.Actions = nil
			it.fail(Conflict, fmt.Errorf("row %d: the backend's activation reads %s with this row's files, and the agent cannot read it (%v): nothing is changed for this row until it can; fix its permissions or move it away", it.Row.ID, stuck.Path, stuck.Err))
		}
	}
	for k := range p.Orphans {
		if o := &p.Orphans[k]; o.Kept == "" && touches(o.Actions) {
			o.Actions, o.Kept = nil, fmt.Sprintf("its files are activated with %s, which the agent cannot read (%v)", stuck.Path, stuck.Err)
		}
	}
}

// checkAddressMoves fails the rows whose address is on another link that
// keeps it. An address that another row's NIC, or an orphan removed in
// this cycle, gives up passes to the row in the same cycle: the
// transaction removes addresses everywhere before it adds any.
func checkAddressMoves(p *Plan, owner map[netip.Addr]*Link) {
	// A row refused here gives nothing up either: repeat until none is.
	for changed := true; changed; {
		changed = false
		released := map[netip.Addr]int{} // address -> the link giving it up
		for _, it := range p.Ifaces {
			for _, a := range it.Actions {
				if a.Kind == DelAddr && it.Link != nil {
					released[a.Addr.Addr()] = it.Link.Index
				}
			}
		}
		for _, o := range p.Orphans {
			for _, a := range o.Actions {
				if a.Kind == DelAddr && o.Link != nil && o.Confirmed && o.Kept == "" {
					released[a.Addr.Addr()] = o.Link.Index
				}
			}
		}
		for k := range p.Ifaces {
			it := &p.Ifaces[k]
			if it.Err != nil || it.Link == nil || !it.Want.Addr.IsValid() {
				continue
			}
			addr := it.Want.Addr.Addr()
			o := owner[addr]
			if o == nil || o.Index == it.Link.Index {
				continue
			}
			if idx, ok := released[addr]; ok && idx == o.Index {
				continue
			}
			it.fail(Validation, fmt.Errorf("row %d: address %s is already on link %s, which keeps it", it.Row.ID, addr, o.Name))
			it.Actions = nil
			changed = true
		}
	}
}

// Reserved is an address or a network no row's subnet may take in.
type Reserved struct {
	Prefix netip.Prefix // a single address is a /32 or /128
	What   string       // "the database address 192.0.2.1"
	// Via is the index of the link a gateway is reached through: a gateway
	// on the agent's own NIC (a route that arrived on it) is not reserved.
	Via int
}

// Shortest subnets a row may have: a route wider than these would take
// over much of what the node's default route carries.
const (
	MinBits4 = 8
	MinBits6 = 16
)

// checkReserved fails the rows whose subnet would capture the node's own
// routes: its default traffic, the route to the database or a gateway, or
// the network of a link the agent never changes (the management network).
func checkReserved(ifaces []Iface, in Input) {
	var reserved []Reserved
	for _, r := range in.Reserved {
		if l := linkIndex(in.Links, r.Via); l != nil {
			if _, ok := protection(in, l); !ok {
				continue
			}
		}
		reserved = append(reserved, r)
	}
	for k := range in.Links {
		l := &in.Links[k]
		if l.Loopback {
			continue
		}
		if _, ok := protection(in, l); ok {
			for _, a := range l.Addrs {
				reserved = append(reserved, Reserved{Prefix: a.Masked(), What: fmt.Sprintf("the network of %s (%s), a link the agent never changes", l.Name, a.Masked())})
			}
		}
	}
	for k := range ifaces {
		it := &ifaces[k]
		if it.Err != nil || !it.Want.Addr.IsValid() {
			continue
		}
		subnet := it.Want.Addr.Masked()
		min := MinBits6
		if subnet.Addr().Is4() {
			min = MinBits4
		}
		if subnet.Bits() < min {
			it.fail(Validation, fmt.Errorf("row %d: subnet %s is wider than /%d: its route would take over what the node's default route carries; the subnet's cidr is wrong", it.Row.ID, subnet, min))
			continue
		}
		for _, r := range reserved {
			single := r.Prefix.IsSingleIP()
			switch {
			case single && subnet.Contains(r.Prefix.Addr()):
				it.fail(Validation, fmt.Errorf("row %d: subnet %s takes in %s: the NIC would capture the node's route to it; the subnet's cidr is wrong", it.Row.ID, subnet, r.What))
			case !single && subnet.Overlaps(r.Prefix) && subnet.Bits() >= r.Prefix.Bits():
				it.fail(Validation, fmt.Errorf("row %d: subnet %s lies in %s: the NIC would capture part of it; the subnet's cidr is wrong", it.Row.ID, subnet, r.What))
			default:
				continue
			}
			break
		}
	}
}

// upper returns a link that sits on the link with index i (a VLAN, a
// macvlan), or nil.
func upper(ls []Link, i int) *Link {
	for k := range ls {
		if ls[k].Parent == i && ls[k].Index != i && upperKinds[ls[k].Kind] {
			return &ls[k]
		}
	}
	return nil
}

// upperKinds are the links that sit on another one and need it as it is;
// a veth's peer is its parent in the kernel's terms, but not on top of it.
var upperKinds = map[string]bool{"vlan": true, "macvlan": true, "macvtap": true, "ipvlan": true, "ipvtap": true, "vxlan": true}

// linkIndex returns the link with index i, or nil.
func linkIndex(ls []Link, i int) *Link {
	for k := range ls {
		if ls[k].Index == i {
			return &ls[k]
		}
	}
	return nil
}

// checkClaims records, for each named row, the configuration that is not
// the agent's and also takes in its NIC, and fails the row when one such
// entry takes effect on this node: two configurations would fight over it.
func checkClaims(ifaces []Iface, in Input) {
	for k := range ifaces {
		it := &ifaces[k]
		if it.Want.Name == "" {
			continue
		}
		for _, c := range in.Claims {
			if !c.Matches(it.Want.MAC, it.Want.Name) {
				continue
			}
			effect := in.ClaimsRead[c.Family] && c.Wins(it.Want.Name)
			it.Claims = append(it.Claims, Claim{Claim: c, TakesEffect: effect})
			if it.Err == nil && effect {
				it.fail(Conflict, fmt.Errorf("row %d: %s is not the agent's and also configures this NIC, and it takes effect on this node: the two would fight over %s at every boot and reload; remove that entry (for cloud-init, write `network: {config: disabled}` to /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg) so the agent can manage the NIC", it.Row.ID, c, it.Want.Name))
			}
		}
	}
}

// protection says why l must never be changed, if it must not.
func protection(in Input, l *Link) (string, bool) {
	if why, ok := in.Protected[l.Index]; ok {
		return why, true
	}
	if !in.DefaultRoute[l.Index] {
		return "", false
	}
	if isManagedName(l.Name) && slices.ContainsFunc(in.Files, func(f netconf.Owned) bool {
		return !f.Foreign && f.Name == l.Name && f.Iface.MAC == l.MAC
	}) {
		return "", false
	}
	return "carries a default route", true
}

func names(ls []*Link) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Name)
	}
	return strings.Join(s, ", ")
}

// markDuplicates fails every row of a group but the first (lowest id): a
// row added later with a MAC or address already in use must not take a
// working interface down with it.
func markDuplicates[K comparable](ifaces []Iface, groups map[K][]int, field string) {
	for key, idx := range groups {
		for _, k := range idx[1:] {
			first := ifaces[idx[0]].Row.ID
			ifaces[k].fail(Validation, fmt.Errorf("row %d: %s %v is already in row %d of this node", ifaces[k].Row.ID, field, key, first))
		}
	}
}

// assignNames gives each row with a NIC (or with files) its stable name:
// the multinicN name the NIC already has, else the name of an owned file
// for its MAC, else the lowest free one.
func assignNames(ifaces []Iface, ls []Link, files []netconf.Owned) {
	taken := map[string]bool{}
	for _, l := range ls {
		taken[l.Name] = true
	}
	fileName := map[string]string{} // MAC -> lowest owned file name
	for _, f := range files {
		taken[f.Name] = true
		if !f.Foreign && f.Err == nil && f.Iface.MAC != "" {
			if cur, ok := fileName[f.Iface.MAC]; !ok || f.Name < cur {
				fileName[f.Iface.MAC] = f.Name
			}
		}
	}
	claimed := map[string]bool{}
	// 1: the NIC is already called multinicN.
	for k := range ifaces {
		it := &ifaces[k]
		if it.Link != nil && isManagedName(it.Link.Name) {
			it.Want.Name = it.Link.Name
			claimed[it.Link.Name] = true
		}
	}
	// 2: an owned file already names the MAC.
	for k := range ifaces {
		it := &ifaces[k]
		if it.Want.Name != "" || it.Want.MAC == "" {
			continue
		}
		if n, ok := fileName[it.Want.MAC]; ok && !claimed[n] && (it.Link == nil || !linkHolds(ls, n, it.Link)) {
			it.Want.Name = n
			claimed[n] = true
		}
	}
	// 3: the lowest name nobody holds, for valid rows whose NIC is here.
	for k := range ifaces {
		it := &ifaces[k]
		if it.Want.Name != "" || it.Err != nil || it.Link == nil {
			continue
		}
		for n := 0; n < netconf.MaxInterfaces; n++ {
			name := "multinic" + strconv.Itoa(n)
			if !taken[name] && !claimed[name] {
				it.Want.Name = name
				claimed[name] = true
				break
			}
		}
		if it.Want.Name == "" {
			it.fail(Conflict, fmt.Errorf("row %d: no free name: multinic0..multinic%d are all held by other links or files", it.Row.ID, netconf.MaxInterfaces-1))
		}
	}
}

// linkHolds reports whether name is held by a live link other than own.
func linkHolds(ls []Link, name string, own *Link) bool {
	for _, l := range ls {
		if l.Name == name && l.Index != own.Index {
			return true
		}
	}
	return false
}

func isManagedName(n string) bool {
	return len(n) == len("multinic0") && strings.HasPrefix(n, "multinic") && n[8] >= '0' && n[8] <= '9'
}

func ifaceActions(it *Iface, same func(path string, content, want []byte) bool, want []netconf.File, files []netconf.Owned, byPath map[string]netconf.Owned, rendered map[string]bool) ([]Action, error) {
	var acts []Action
	// A row at 1 whose interface differs has drifted; but not one the
	// previous agent configured, whose files are taken over now.
	takeover := slices.ContainsFunc(want, func(f netconf.File) bool { return byPath[f.Path].Legacy })
	drift := func(kind string) string {
		if it.Row.Success && !takeover {
			return kind
		}
		return ""
	}
	wanted := map[string]bool{}
	for _, f := range want {
		wanted[f.Path] = true
		cur, ok := byPath[f.Path]
		if ok && cur.Unreadable {
			return nil, fmt.Errorf("row %d: %v; the agent does not change a file it cannot read: fix its permissions or move it away", it.Row.ID, cur.Err)
		}
		if ok && cur.Foreign {
			why := ""
			if cur.Err != nil {
				why = fmt.Sprintf(", nor the previous multinic-agent's as it wrote it (%v)", cur.Err)
			}
			return nil, fmt.Errorf("row %d: %s exists but was not written by multinic-agent (no %q first line)%s; move it away so the agent can manage %s", it.Row.ID, f.Path, netconf.Marker, why, it.Want.Name)
		}
		if ok && !cur.Legacy && same(f.Path, cur.Content, f.Content) && cur.Mode == f.Mode {
			continue
		}
		a := Action{Kind: WriteFile, Path: f.Path, New: f.Content, Mode: f.Mode}
		switch {
		case ok && cur.Legacy:
			a.Kind, a.Old, a.OldMode, a.Backup = Adopt, cur.Content, cur.Mode, true
		case ok:
			a.Old, a.OldMode, a.Drift = cur.Content, cur.Mode, drift("file")
		}
		acts = append(acts, a)
	}
	// Owned files for this MAC at other paths: an old name or another backend.
	for _, f := range files {
		if f.Foreign || f.Unreadable || rendered[f.Path] || f.Iface.MAC != it.Want.MAC {
			continue
		}
		acts = append(acts, Action{Kind: DeleteFile, Path: f.Path, Old: f.Content, OldMode: f.Mode, Backup: f.Legacy, Drift: drift("file")})
	}

	l := it.Link
	if l.Name != it.Want.Name {
		acts = append(acts, Action{Kind: Rename, From: l.Name, To: it.Want.Name, Drift: drift("name")})
	}
	if it.Want.MTU > 0 && l.MTU != it.Want.MTU {
		acts = append(acts, Action{Kind: SetMTU, OldMTU: l.MTU, MTU: it.Want.MTU, Drift: drift("mtu")})
	}
	if !l.RA.Off() {
		acts = append(acts, Action{Kind: DisableRA, Drift: drift("ra")})
	}
	has := false
	renamed := l.Name != it.Want.Name
	for _, a := range l.Addrs {
		// A rename takes the link down, and the kernel drops IPv6
		// addresses from a link that goes down (keep_addr_on_down=0, its
		// default): the row's IPv6 address is added again after it.
		if a == it.Want.Addr && !(renamed && a.Addr().Is6()) {
			has = true
			continue
		}
		if a == it.Want.Addr {
			continue
		}
		acts = append(acts, Action{Kind: DelAddr, Addr: a, Drift: drift("address")})
	}
	if it.Want.Addr.IsValid() && !has {
		acts = append(acts, Action{Kind: AddAddr, Addr: it.Want.Addr, Drift: drift("address")})
	}
	if !l.Up || l.Name != it.Want.Name {
		// A rename takes the link down, so it is brought up again.
		a := Action{Kind: SetUp}
		if !l.Up {
			a.Drift = drift("state")
		}
		acts = append(acts, a)
	}
	return acts, nil
}

// orphans finds owned files whose MAC has no row and decides their removal.
func orphans(in Input, rowMACs, rendered map[string]bool, byMAC map[string][]*Link) ([]Orphan, []string) {
	groups := map[string]*Orphan{}
	var order []string
	var absent []string
	for _, f := range in.Files {
		if f.Foreign || f.Unreadable || rendered[f.Path] || (f.Iface.MAC != "" && rowMACs[f.Iface.MAC]) {
			continue
		}
		key := f.Name + "|" + f.Iface.MAC
		o := groups[key]
		if o == nil {
			o = &Orphan{Name: f.Name, MAC: f.Iface.MAC}
			groups[key] = o
			order = append(order, key)
		}
		o.Files = append(o.Files, f)
		absent = append(absent, f.Path)
	}
	var out []Orphan
	for _, key := range order {
		o := groups[key]
		o.Confirmed = true
		for _, f := range o.Files {
			if !in.PrevAbsent[f.Path] {
				o.Confirmed = false
			}
		}
		if cands := byMAC[o.MAC]; o.MAC != "" && len(cands) == 1 {
			o.Link = cands[0]
		}
		if o.Link != nil {
			if why, ok := protection(in, o.Link); ok {
				o.Kept = fmt.Sprintf("link %s %s", o.Link.Name, why)
				out = append(out, *o)
				continue
			}
		}
		for _, f := range o.Files {
			o.Actions = append(o.Actions, Action{Kind: DeleteFile, Path: f.Path, Old: f.Content, OldMode: f.Mode, Backup: f.Legacy})
		}
		if o.Link != nil {
			for _, a := range o.Link.Addrs {
				o.Actions = append(o.Actions, Action{Kind: DelAddr, Addr: a})
			}
			if o.Link.Up {
				o.Actions = append(o.Actions, Action{Kind: SetDown})
			}
		}
		out = append(out, *o)
	}
	sort.Strings(absent)
	return out, absent
}
