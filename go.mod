module github.com/multinic-agent/multinic-agent

go 1.26.8

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/pmezard/go-difflib v1.0.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.50.0
)

require filippo.io/edwards25519 v1.2.0 // indirect
