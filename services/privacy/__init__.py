"""privacy: erasures ("forget me") by crypto-shredding, asked for, confirmed, carried out and reported."""
