package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// dhcpClient keeps a DHCPv4 lease on one uplink (RFC 2131 §4.4): it asks
// for one, applies it (address, default route, nameservers), renews it,
// and gives it back when the appliance stops.
type dhcpClient struct {
	link   Link
	resolv *resolvConf
	log    *slog.Logger
	// bound is closed when the first lease is applied, so that boot can
	// wait a moment for the uplink before starting the services.
	bound chan struct{}
}

func newDHCPClient(l Link, resolv *resolvConf, log *slog.Logger) *dhcpClient {
	return &dhcpClient{link: l, resolv: resolv, log: log.With("interface", l.Section, "device", l.Name), bound: make(chan struct{})}
}

// Timing of the client. RFC 2131 §4.1 asks for randomised exponential
// backoff between retransmissions; nclient4 retransmits within one
// exchange, these space the exchanges.
const (
	dhcpExchangeTimeout = 2 * time.Second // per retransmission, inside nclient4
	dhcpRetries         = 3
	dhcpBackoffMin      = 2 * time.Second
	dhcpBackoffMax      = 60 * time.Second
	// dhcpRenewFloor keeps a server with a tiny lease from being flooded.
	dhcpRenewFloor = 5 * time.Second
)

// run keeps a lease until ctx ends, then releases it.
func (d *dhcpClient) run(ctx context.Context) {
	backoff := dhcpBackoffMin
	failures := 0
	for ctx.Err() == nil {
		lease, err := d.obtain(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			// Say it the first time and then now and again, not every try.
			if failures == 1 || failures%10 == 0 {
				d.log.Warn("dhcp client: no lease yet; retrying", "tries", failures, "err", err)
			}
			sleep(ctx, backoff)
			backoff = min(backoff*2, dhcpBackoffMax)
			continue
		}
		failures, backoff = 0, dhcpBackoffMin
		d.keep(ctx, lease)
	}
}

// obtain runs DISCOVER → OFFER → REQUEST → ACK and applies the lease.
func (d *dhcpClient) obtain(ctx context.Context) (*nclient4.Lease, error) {
	c, err := nclient4.New(d.link.Name, nclient4.WithTimeout(dhcpExchangeTimeout), nclient4.WithRetry(dhcpRetries))
	if err != nil {
		return nil, fmt.Errorf("dhcp client on %s: %w", d.link.Name, err)
	}
	defer c.Close()
	lease, err := c.Request(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.apply(nil, lease.ACK); err != nil {
		return nil, err
	}
	select {
	case <-d.bound:
	default:
		close(d.bound)
	}
	return lease, nil
}

// keep renews lease at T1 until ctx ends (then releases it) or it cannot be
// renewed before it expires (then takes it away, so that run starts over).
// nclient4 broadcasts its renewals, so RENEWING and REBINDING (§4.4.5) are
// one state here: any server may answer.
func (d *dhcpClient) keep(ctx context.Context, lease *nclient4.Lease) {
	for {
		t1, expiry := leaseTimes(lease.ACK, lease.CreationTime)
		wait := time.Until(t1)
		for {
			if !sleep(ctx, max(wait, dhcpRenewFloor)) {
				d.release(lease)
				return
			}
			next, err := d.renew(ctx, lease)
			if err == nil {
				lease = next
				break
			}
			left := time.Until(expiry)
			if left <= 0 {
				d.log.Warn("dhcp client: lease expired without renewal; starting over", "address", lease.ACK.YourIPAddr, "err", err)
				d.unapply(lease.ACK)
				return
			}
			d.log.Warn("dhcp client: renewal failed; retrying", "err", err, "expires_in", left.Round(time.Second))
			wait = left / 2 // §4.4.5: retry at half the time left
		}
	}
}

func (d *dhcpClient) renew(ctx context.Context, lease *nclient4.Lease) (*nclient4.Lease, error) {
	c, err := nclient4.New(d.link.Name, nclient4.WithTimeout(dhcpExchangeTimeout), nclient4.WithRetry(dhcpRetries))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	next, err := c.Renew(ctx, lease)
	if err != nil {
		return nil, err
	}
	if err := d.apply(lease.ACK, next.ACK); err != nil {
		return nil, err
	}
	return next, nil
}

// release gives the address back (RFC 2131 §4.4.6) and removes it.
func (d *dhcpClient) release(lease *nclient4.Lease) {
	if c, err := nclient4.New(d.link.Name); err == nil {
		if err := c.Release(lease); err != nil {
			d.log.Debug("dhcp client: release failed", "err", err)
		}
		c.Close()
	}
	d.unapply(lease.ACK)
	d.log.Info("dhcp client: lease released", "address", lease.ACK.YourIPAddr)
}

// leaseTimes is when to renew (T1: option 58, else half the lease,
// RFC 2131 §4.4.5) and when the lease ends.
func leaseTimes(ack *dhcpv4.DHCPv4, got time.Time) (t1, expiry time.Time) {
	lt := ack.IPAddressLeaseTime(time.Hour)
	renew := ack.IPAddressRenewalTime(lt / 2)
	if renew <= 0 || renew > lt {
		renew = lt / 2
	}
	return got.Add(renew), got.Add(lt)
}

// apply puts the lease of ack on the link: the address (with the lease's
// lifetime, so that the kernel drops it if lobby dies), the default route
// and the nameservers. prev is the lease it replaces, or nil.
func (d *dhcpClient) apply(prev, ack *dhcpv4.DHCPv4) error {
	link, err := netlink.LinkByName(d.link.Name)
	if err != nil {
		return err
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	ones, _ := mask.Size()
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || ones == 0 {
		return fmt.Errorf("dhcp: unusable lease %s/%s from %s", ack.YourIPAddr, net.IP(mask), ack.ServerIdentifier())
	}
	if prev != nil && !prev.YourIPAddr.Equal(ack.YourIPAddr) {
		d.unapply(prev)
	}
	lt := int(ack.IPAddressLeaseTime(time.Hour) / time.Second)
	addr := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(ip, ones)), ValidLft: lt, PreferedLft: lt}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("dhcp: address %s: %w", addr.IPNet, err)
	}
	var gw netip.Addr
	if rs := ack.Router(); len(rs) > 0 {
		gw, _ = netip.AddrFromSlice(rs[0].To4())
	}
	if gw.IsValid() {
		if err := setDefaultRoute(link, gw); err != nil {
			return fmt.Errorf("dhcp: %w", err)
		}
	}
	var dns []netip.Addr
	for _, s := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(s.To4()); ok {
			dns = append(dns, a)
		}
	}
	if err := d.resolv.set(d.link.Section, append(append([]netip.Addr(nil), d.link.DNS...), dns...)); err != nil {
		return err
	}
	if prev == nil || !prev.YourIPAddr.Equal(ack.YourIPAddr) {
		d.log.Info("dhcp client: lease", "address", addr.IPNet.String(), "gateway", gw, "dns", dns,
			"server", ack.ServerIdentifier(), "lease", ack.IPAddressLeaseTime(time.Hour))
	}
	return nil
}

// unapply removes what apply set for ack. The default route goes with the
// address.
func (d *dhcpClient) unapply(ack *dhcpv4.DHCPv4) {
	link, err := netlink.LinkByName(d.link.Name)
	if err != nil {
		return
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	if err := netlink.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: ack.YourIPAddr, Mask: mask}}); err != nil {
		d.log.Debug("dhcp client: removing the address failed", "err", err)
	}
	d.resolv.set(d.link.Section, d.link.DNS)
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
