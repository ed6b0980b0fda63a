# shellcheck shell=bash
# What of the host's own network namespace the lab must never change: the lab tests
# compare it before, during and after a lab (sourced).
host_view() {
  ip -o link show | sed 's/state [A-Z]*//; s/ qlen [0-9]*//' | awk '{print $2}'
  ip -o addr show | awk '{print $2, $3, $4}'
  ip route show table all
  ip rule show
  local table
  for table in filter nat mangle raw; do iptables -t "$table" -S; done
}
