def step(inputs):
    pass
