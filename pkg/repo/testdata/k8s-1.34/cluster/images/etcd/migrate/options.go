package main

var (
	supportedEtcdVersions = []string{"3.4.18", "3.5.21", "3.6.4"}
)
