package probe

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"

	"github.com/emersion/go-sasl"
)

// newSASLClient returns the client side of the -A mechanism. PLAIN comes from
// go-sasl. LOGIN and CRAM-MD5 are written here against the same interface:
// go-sasl's LOGIN sends the user as an initial response and insists on the
// exact challenge "Password:", which not every server sends, and go-sasl has
// no CRAM-MD5 client.
func newSASLClient(mech, user, password string) sasl.Client {
	switch mech {
	case "LOGIN":
		return &loginClient{user: user, password: password}
	case "CRAM-MD5":
		return &cramMD5Client{user: user, secret: password}
	}
	return sasl.NewPlainClient("", user, password)
}

// loginClient answers the first challenge with the user and the second with
// the password, whatever the prompts say.
type loginClient struct {
	user, password string
	answered       int
}

func (c *loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (c *loginClient) Next([]byte) ([]byte, error) {
	c.answered++
	switch c.answered {
	case 1:
		return []byte(c.user), nil
	case 2:
		return []byte(c.password), nil
	}
	return nil, errors.New("server asked for more than user and password")
}

// cramMD5Client implements RFC 2195.
type cramMD5Client struct {
	user, secret string
	answered     bool
}

func (c *cramMD5Client) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, errors.New("server sent a second CRAM-MD5 challenge")
	}
	c.answered = true
	mac := hmac.New(md5.New, []byte(c.secret))
	mac.Write(challenge)
	return []byte(c.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
}
