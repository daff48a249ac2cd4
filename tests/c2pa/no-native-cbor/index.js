throw new Error('cbor-extract: native acceleration is not used here (cbor-x falls back to JavaScript)');
