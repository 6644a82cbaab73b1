"""What is simulated: reactions, rate laws, expressions, events and rules, the network."""
