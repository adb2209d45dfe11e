package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// makeTLS makes a chain of the given shape for names, writes its root to
// rootPath and returns the server's TLS configuration, which presents the
// leaf and any intermediate (never the root, as real servers do not).
//
//   - simple: a P-256 root that signs a P-256 leaf;
//   - le: shaped like Let's Encrypt's ECDSA chain, a P-256 leaf signed by
//     a P-384 intermediate signed by an RSA-4096 root (ISRG Root X1 and E5
//     to E9): the signature checks a client verifying it pays.
func makeTLS(shape, rootPath string, names []string) (*tls.Config, error) {
	now := time.Now()
	var rootKey crypto.Signer
	var err error
	switch shape {
	case "simple":
		rootKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "le":
		rootKey, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return nil, fmt.Errorf("-chain %q: want simple or le", shape)
	}
	if err != nil {
		return nil, err
	}
	root, err := issue(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "benchserver " + shape + " root", Organization: []string{"check-smtp bench"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, rootKey, rootKey)
	if err != nil {
		return nil, err
	}
	issuer, issuerKey := root, rootKey
	var presented [][]byte
	if shape == "le" {
		interKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return nil, err
		}
		inter, err := issue(&x509.Certificate{
			SerialNumber:          big.NewInt(2),
			Subject:               pkix.Name{CommonName: "benchserver E1", Organization: []string{"check-smtp bench"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(3 * 365 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		}, root, interKey, rootKey)
		if err != nil {
			return nil, err
		}
		presented = append(presented, inter.Raw)
		issuer, issuerKey = inter, interKey
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(60 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leaf, err := issue(tmpl, issuer, leafKey, issuerKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: append([][]byte{leaf.Raw}, presented...), PrivateKey: leafKey}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// issue signs tmpl with parentKey as parent (nil: self-signed with key).
func issue(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
