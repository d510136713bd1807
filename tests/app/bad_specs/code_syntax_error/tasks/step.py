def step(inputs, output):
    return (
