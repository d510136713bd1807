"""The typed HTTP surface shared by the home and the agents: route paths, request and response
bodies (pydantic), and one client per role. Roles import it; it imports no role."""
